"""The usage files source: every row kept as text, each file loaded once, a rewrite reloaded."""
from __future__ import annotations

import json
import os

import dlt
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.usage import usage_source


@pytest.fixture
def usage_root(tmp_path):
    root = tmp_path / "usage"
    day = root / "product_api" / "2026-08-02"
    day.mkdir(parents=True)
    (day / "events-1.jsonl").write_text("\n".join(json.dumps(event) for event in [
        {"event_id": "e1", "customer_id": "C0001", "meter": "api_calls", "quantity": "2.5",
         "timestamp": "2026-08-01T10:00:00Z", "properties": {"region": "eu"}, "source": "product_api"},
        {"customer_id": "C0001", "meter": "api_calls", "quantity": 7, "timestamp": "yesterday"},
        {"event_id": "e3", "customer_id": "C0001", "meter": "api_calls", "quantity": "twelve",
         "timestamp": "2026-08-01T11:00:00+02:00"},
    ]) + "\n")
    batch = root / "batch_metering" / "2026-08-03"
    batch.mkdir(parents=True)
    pq.write_table(pa.table({"event_id": ["b1"], "customer_id": ["C0002"], "meter": ["seats"], "quantity": ["-4"],
                             "timestamp": ["2026-08-02T00:00:00+00:00"], "properties": ['{"seat": 1}'],
                             "source": ["batch_metering"]}), batch / "events-1.parquet")
    (root / "product_api" / "_watermark.json").write_text(
        json.dumps({"source": "product_api", "complete_through": "2026-08-02T00:00:00Z"}))
    return root


def _pipeline(tmp_path):
    return dlt.pipeline(pipeline_name="usage_test", dataset_name="raw_usage",
                        destination=dlt.destinations.duckdb(credentials=str(tmp_path / "w.duckdb")),
                        pipelines_dir=str(tmp_path / "pipelines"))


def _rows(tmp_path, sql):
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_every_row_arrives_as_text_with_its_file_and_row(tmp_path, usage_root):
    _pipeline(tmp_path).run(usage_source(root=str(usage_root)))
    rows = _rows(tmp_path, "select file_name, file_row, event_id, quantity, timestamp, properties, delivered_on "
                           "from raw_usage.usage_events order by file_name, file_row")
    assert rows == [
        ("batch_metering/2026-08-03/events-1.parquet", 1, "b1", "-4", "2026-08-02T00:00:00+00:00", '{"seat": 1}',
         "2026-08-03"),
        ("product_api/2026-08-02/events-1.jsonl", 1, "e1", "2.5", "2026-08-01T10:00:00Z", '{"region":"eu"}',
         "2026-08-02"),
        ("product_api/2026-08-02/events-1.jsonl", 2, None, "7", "yesterday", None, "2026-08-02"),
        ("product_api/2026-08-02/events-1.jsonl", 3, "e3", "twelve", "2026-08-01T11:00:00+02:00", None,
         "2026-08-02"),
    ]
    assert _rows(tmp_path, "select source, file_name from raw_usage.usage_watermarks") == [
        ("product_api", "product_api/_watermark.json")]
    assert _rows(tmp_path, "select count(distinct _dlt_load_id) from raw_usage.usage_events") == [(1,)]


def test_loading_twice_adds_nothing_and_a_rewritten_file_loads_again(tmp_path, usage_root):
    pipeline = _pipeline(tmp_path)
    pipeline.run(usage_source(root=str(usage_root)))
    pipeline.run(usage_source(root=str(usage_root)))
    assert _rows(tmp_path, "select count(*) from raw_usage.usage_events") == [(4,)]
    rewritten = usage_root / "batch_metering" / "2026-08-03" / "events-1.parquet"
    pq.write_table(pa.table({"event_id": ["b1", "b2"], "quantity": ["4", "5"]}), rewritten)
    os.utime(rewritten, (1_900_000_000, 1_900_000_000))
    pipeline.run(usage_source(root=str(usage_root)))
    assert _rows(tmp_path, "select count(*) from raw_usage.usage_events") == [(6,)]


def test_an_unreadable_file_is_named(tmp_path, usage_root):
    (usage_root / "product_api" / "2026-08-02" / "events-2.jsonl").write_text("{not json\n")
    with pytest.raises(Exception, match=r"product_api/2026-08-02/events-2.jsonl cannot be read"):
        _pipeline(tmp_path).run(usage_source(root=str(usage_root)))
