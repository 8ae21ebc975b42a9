"""Field mappings: validated at load time with every problem named; payloads exact."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from reverse_etl.mapping import load_mapping


def test_shipped_mappings_load():
    assert load_mapping("netsuite").objects["usage_records"].record_type == "usage"
    assert load_mapping("salesforce").objects["usage_summaries"].fields["external_id"].field == "External_Id__c"


def test_every_problem_of_a_bad_mapping_is_named(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("""
objects:
  usage_records:
    model: sync_netsuite__usage_records
    record_type: usage
    mode: delete
    key: external_id
    fields:
      external_id: {field: externalId, type: text}
      memo: {field: memo, type: string, colour: blue}
""")
    with pytest.raises(ValueError) as error:
        load_mapping("netsuite", path)
    message = str(error.value)
    assert str(path) in message
    assert "usage_records.mode" in message
    assert "usage_records.fields.external_id.type" in message
    assert "usage_records.fields.memo.colour" in message


def test_a_key_without_a_field_mapping_is_refused(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("""
objects:
  usage_records: {model: m, record_type: usage, mode: upsert, key: external_id, fields: {memo: {field: memo, type: string}}}
""")
    with pytest.raises(ValueError, match="key column 'external_id' has no field mapping"):
        load_mapping("netsuite", path)


def test_payload_converts_types_exactly():
    mapping = load_mapping("netsuite").objects["usage_records"]
    payload = mapping.payload({"external_id": "usage:K1-api:api_calls:2026-08-01", "customer_id": "100001",
                               "subscription_id": "400001", "subscription_line_id": "500003",
                               "usage_quantity": Decimal("1200.500000000"), "usage_date": date(2026, 8, 31),
                               "memo": None})
    assert payload == {"externalId": "usage:K1-api:api_calls:2026-08-01", "customer": {"id": "100001"},
                       "usageSubscription": {"id": "400001"}, "usageSubscriptionLine": {"id": "500003"},
                       "usageQuantity": Decimal("1200.5"), "usageDate": "2026-08-31"}
    assert str(mapping.payload({**{k: "1" for k in mapping.fields}, "usage_quantity": Decimal("100.000"),
                                "usage_date": date(2026, 8, 31)})["usageQuantity"]) == "100"


def test_a_missing_required_value_names_the_row_and_column():
    mapping = load_mapping("netsuite").objects["usage_records"]
    with pytest.raises(ValueError, match="row 'usage:x'.*'customer_id' is empty"):
        mapping.payload({"external_id": "usage:x", "customer_id": None})
