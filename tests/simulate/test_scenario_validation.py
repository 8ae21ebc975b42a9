"""Scenario validation: a valid file loads with exact decimals; an invalid one is refused with one
message that names the field by its path and says what is wrong (docs/scenarios.md "Validation").

Each case starts from the format page's example (format_page_example.yml, copied from
scenario-format.md) and breaks one thing.
"""
from __future__ import annotations

import copy
import subprocess
import sys
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from meterledger.simulate.scenario import ScenarioError, load_scenario, parse_scenario
from meterledger.simulate.yaml_loader import load_yaml

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE / "format_page_example.yml"
REPO_ROOT = HERE.parents[1]


@pytest.fixture(scope="module")
def example_data() -> dict:
    return load_yaml(EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture
def data(example_data) -> dict:
    return copy.deepcopy(example_data)


def refused(data: dict) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, base_dir=HERE)
    message = str(caught.value)
    assert "\n" not in message, "the message is one line"
    return message


def line(data: dict, index: int) -> dict:
    return data["contracts"][0]["lines"][index]


# --- valid files ------------------------------------------------------------------------------

def test_the_format_page_example_is_valid() -> None:
    scenario = load_scenario(EXAMPLE)
    assert scenario.scenario == "annual-platform-plus-api"
    assert scenario.as_of == date(2026, 4, 1)
    assert scenario.complete_through == date(2026, 3, 31)
    assert scenario.closed_through == date(2026, 1, 31)
    platform, api, minimum, credits, setup = scenario.contracts[0].lines
    assert platform.amount == Decimal("1000.00") and platform.fee_timing == "in_advance"
    assert [t.unit_price for t in api.price.tiers] == [Decimal(7), Decimal("6.5"), Decimal(6)]
    assert api.price.tiers[-1].up_to is None
    assert scenario.applies_to(scenario.contracts[0], minimum) == ["K1-platform", "K1-api"]
    assert credits.expiry_date == date(2027, 1, 14)
    assert setup.date == date(2026, 1, 15)
    assert [a.key for a in scenario.amendments] == ["K1-A1", "K1-A2"]
    assert scenario.amendments[0].new_amount == Decimal("1200.00")
    assert scenario.cancelled_from("K1-api") == date(2026, 6, 1)
    # inline events first, then the file's, in the order written
    assert [e.id for e in scenario.events] == ["e-1", "e-1", "e-2", "f-1", "f-2"]
    assert scenario.events[4].timestamp == datetime(2026, 3, 5, 10, 0, tzinfo=timezone.utc)  # +02:00 -> UTC
    assert scenario.events[3].quantity == Decimal("2.5")


def test_numbers_are_exact_decimals_never_floats(data) -> None:
    data["contracts"][0]["lines"][0]["amount"] = load_yaml("x: 0.1")["x"]
    line(data, 1)["price"]["tiers"][1]["unit_price"] = "0.123456789"  # a quoted decimal string
    data["usage_events"][0]["quantity"] = load_yaml("x: 1234567890123456789.5")["x"]
    scenario = parse_scenario(data, base_dir=HERE)
    assert scenario.contracts[0].lines[0].amount == Decimal("0.1")
    assert str(scenario.contracts[0].lines[1].price.tiers[1].unit_price) == "0.123456789"
    assert scenario.events[0].quantity == Decimal("1234567890123456789.5")
    assert not any(isinstance(v, float) for v in load_yaml("a: 6.5\nb: [1.0, 2.25]").values()
                   if not isinstance(v, list))


def test_the_yaml_loader_keeps_numbers_dates_and_words_as_written() -> None:
    loaded = load_yaml("a: 6.5\nb: 012\nc: 2026-01-15\nd: yes\ne: true\nf: 1_000.50\n")
    assert loaded == {"a": Decimal("6.5"), "b": 12, "c": "2026-01-15", "d": "yes", "e": True,
                      "f": Decimal("1000.50")}


def test_extensions_delivered_on_and_pending_amendments_are_accepted(data) -> None:
    data["usage_events"][2]["delivered_on"] = "2026-02-10"
    data["amendments"][0]["status"] = "pending"
    scenario = parse_scenario(data, base_dir=HERE)
    assert scenario.events[2].delivery_date == date(2026, 2, 10)
    assert scenario.events[0].delivery_date == date(2026, 1, 20)  # default: the event's UTC date
    assert not scenario.amendments[0].is_activated


def test_meters_left_out_means_the_production_catalogue(data) -> None:
    del data["meters"]
    scenario = parse_scenario(data, base_dir=HERE)
    assert "api_calls" in {m.id for m in scenario.meters}
    assert "payments_volume" in {m.id for m in scenario.meters}


# --- references -------------------------------------------------------------------------------

def test_unknown_customer(data) -> None:
    data["contracts"][0]["customer"] = "C9"
    assert refused(data) == "contracts[0].customer: 'C9' is not a customer of the scenario"


def test_unknown_meter_on_a_usage_line(data) -> None:
    line(data, 1)["meter"] = "api_cals"
    assert refused(data) == "contracts[0].lines[1].meter: 'api_cals' is not a meter of the scenario"


def test_unknown_contract_of_an_amendment(data) -> None:
    data["amendments"][1]["contract"] = "K2"
    assert refused(data) == "amendments[1].contract: 'K2' is not a contract of the scenario"


def test_amendment_of_a_line_of_another_contract(data) -> None:
    data["amendments"][0]["line"] = "K1-nope"
    assert refused(data) == "amendments[0].line: 'K1-nope' is not a line of contract K1"


def test_applies_to_an_unknown_line(data) -> None:
    line(data, 2)["applies_to"] = ["K1-platform", "K1-apii"]
    assert refused(data) == "contracts[0].lines[2].applies_to[1]: 'K1-apii' is not a line of contract K1"


def test_a_credit_applies_to_usage_lines_only(data) -> None:
    line(data, 3)["applies_to"] = ["K1-platform"]
    assert refused(data) == ("contracts[0].lines[3].applies_to[0]: 'K1-platform' is a recurring_fee line; "
                             "a prepaid_credit applies to usage lines only")


def test_event_of_an_unknown_customer_and_meter(data) -> None:
    data["usage_events"][2]["customer"] = "C2"
    assert refused(data) == "usage_events[2].customer: 'C2' is not a customer of the scenario"
    data["usage_events"][2]["customer"] = "C1"
    data["usage_events"][2]["meter"] = "storage"
    assert refused(data) == "usage_events[2].meter: 'storage' is not a meter of the scenario"


def test_duplicate_ids(data) -> None:
    data["customers"].append(dict(data["customers"][0]))
    assert refused(data) == "customers[1].id: customer 'C1' is already defined at customers[0]"


def test_duplicate_line_ids_across_contracts(data) -> None:
    second = copy.deepcopy(data["contracts"][0])
    second["id"] = "K2"
    second["lines"] = [copy.deepcopy(second["lines"][4])]
    data["contracts"].append(second)
    assert refused(data) == ("contracts[1].lines[0].id: line 'K1-setup' is already defined at "
                             "contracts[0].lines[4] (line ids are unique across the scenario)")


def test_two_usage_lines_billing_one_meter_on_the_same_days(data) -> None:
    second = copy.deepcopy(data["contracts"][0])
    second["id"] = "K2"
    second["start_date"] = "2026-06-01"
    second["lines"] = [dict(line(data, 1), id="K2-api")]
    data["contracts"].append(second)
    data["amendments"].pop()  # without the cancellation, K1-api runs through 2027-01-14
    assert refused(data).startswith("contracts[1].lines[0].meter: line K1-api already bills meter 'api_calls' "
                                    "for customer 'C1' on some of the same days")


# --- price tiers ------------------------------------------------------------------------------

def test_tiers_not_ascending(data) -> None:
    line(data, 1)["price"]["tiers"] = [{"up_to": 5, "unit_price": 7}, {"up_to": 10, "unit_price": 6},
                                       {"up_to": 5, "unit_price": 5}, {"up_to": None, "unit_price": 4}]
    assert refused(data) == "contracts[0].lines[1].price.tiers[2].up_to: 5 is not above the previous tier's 10"


def test_unbounded_tier_not_last(data) -> None:
    line(data, 1)["price"]["tiers"][1]["up_to"] = None
    assert refused(data) == ("contracts[0].lines[1].price.tiers[1].up_to: null (no upper bound) is allowed "
                             "on the last tier only")


def test_last_tier_must_be_unbounded(data) -> None:
    line(data, 1)["price"]["tiers"][2]["up_to"] = 100
    assert refused(data) == ("contracts[0].lines[1].price.tiers[2].up_to: the last tier needs up_to: null "
                             "(no upper bound), not 100")


def test_tier_needs_up_to(data) -> None:
    del line(data, 1)["price"]["tiers"][0]["up_to"]
    assert refused(data) == "contracts[0].lines[1].price.tiers[0].up_to: is required"


def test_graduated_percentage_tiers_use_rate(data) -> None:
    line(data, 1)["price"]["model"] = "graduated_percentage"
    data["meters"][0]["property"] = "amount"
    for event in data["usage_events"]:
        event["amount"] = "10.00"
    assert refused(data) == "contracts[0].lines[1].price.tiers[0].rate: is required in a graduated_percentage tier"


# --- price models -----------------------------------------------------------------------------

def test_missing_fields_of_a_price_model(data) -> None:
    line(data, 1)["price"] = {"model": "unit"}
    assert refused(data) == "contracts[0].lines[1].price.unit_price: is required for the unit model"
    line(data, 1)["price"] = {"model": "package", "package_price": 10}
    assert refused(data) == "contracts[0].lines[1].price.package_size: is required for the package model"
    line(data, 1)["price"] = {"model": "graduated"}
    assert refused(data) == "contracts[0].lines[1].price.tiers: is required for the graduated model"


def test_fields_of_another_price_model(data) -> None:
    line(data, 1)["price"]["unit_price"] = 5
    assert refused(data) == ("contracts[0].lines[1].price.unit_price: does not apply to the graduated model "
                             "(its fields: tiers)")


def test_unknown_price_model(data) -> None:
    line(data, 1)["price"]["model"] = "stairstep"
    assert refused(data).startswith("contracts[0].lines[1].price.model: 'stairstep' is not allowed "
                                    "(expected unit, graduated, volume, package, percentage")


def test_percentage_price_needs_a_meter_of_amounts(data) -> None:
    line(data, 1)["price"] = {"model": "percentage", "rate": "2.9"}
    assert refused(data) == ("contracts[0].lines[1].meter: a percentage price charges each event's amount: it needs "
                             "a meter that sums the events' amount; 'api_calls' is sum of quantity")


def test_graduated_percentage_takes_any_summed_meter_but_no_other_aggregation(data) -> None:
    tiers = [{"up_to": 10, "rate": 1, "flat_fee": 200}, {"up_to": None, "rate": 2}]
    line(data, 1)["price"] = {"model": "graduated_percentage", "tiers": tiers}
    assert parse_scenario(data, base_dir=HERE).meters[0].property == "quantity"  # sum of quantity: accepted
    data["meters"][0]["aggregation"] = "max"
    assert refused(data) == ("contracts[0].lines[1].meter: a graduated_percentage price takes the meter's "
                             "aggregated value, which must be a sum; 'api_calls' is max of quantity")


def test_a_money_amount_finer_than_its_currency_is_refused_up_front(data) -> None:
    line(data, 3)["amount"] = "30.333"  # the prepaid credit, in USD
    assert refused(data) == ("contracts[0].lines[3].amount: 30.333 has more decimals than USD's 2 "
                             "(a money amount is written in whole USD minor units)")
    line(data, 3)["amount"] = "30.330"  # trailing zeros are the same amount
    assert parse_scenario(data, base_dir=HERE).contracts[0].lines[3].amount == Decimal("30.33")
    data["amendments"][0]["set"]["amount"] = "1200.005"
    assert refused(data) == ("amendments[0].set.amount: 1200.005 has more decimals than USD's 2 "
                             "(a money amount is written in whole USD minor units)")


def test_unit_prices_and_rates_keep_full_precision(data) -> None:
    line(data, 1)["price"] = {"model": "unit", "unit_price": "0.012345678"}
    assert parse_scenario(data, base_dir=HERE).contracts[0].lines[1].price.unit_price == Decimal("0.012345678")


def test_min_per_event_above_max(data) -> None:
    data["meters"][0]["property"] = "amount"
    for event in data["usage_events"]:
        event["amount"] = "10.00"
    line(data, 1)["price"] = {"model": "percentage", "rate": 3, "min_per_event": 5, "max_per_event": 1}
    assert refused(data) == "contracts[0].lines[1].price.max_per_event: 1 is below min_per_event 5"


# --- line kinds -------------------------------------------------------------------------------

def test_usage_line_needs_meter_and_price(data) -> None:
    del line(data, 1)["meter"]
    assert refused(data) == "contracts[0].lines[1].meter: is required for a usage line"
    line(data, 1)["meter"] = "api_calls"
    del line(data, 1)["price"]
    assert refused(data) == "contracts[0].lines[1].price: is required for a usage line"


def test_prepaid_credit_needs_its_dates(data) -> None:
    del line(data, 3)["expiry_date"]
    assert refused(data) == "contracts[0].lines[3].expiry_date: is required for a prepaid_credit line"


def test_prepaid_credit_expiring_before_its_purchase(data) -> None:
    line(data, 3)["expiry_date"] = "2026-01-14"
    assert refused(data) == ("contracts[0].lines[3].expiry_date: 2026-01-14 is before the purchase_date "
                             "2026-01-15")


def test_proportional_breakage_needs_a_rate_below_one(data) -> None:
    line(data, 3)["breakage"] = "proportional"
    line(data, 3)["expected_breakage_rate"] = 1
    assert refused(data) == ("contracts[0].lines[3].expected_breakage_rate: 1 is not below 1 "
                             "(a fraction: 0.10 = 10%)")


def test_one_time_needs_a_date_and_an_amount(data) -> None:
    del line(data, 4)["date"]
    assert refused(data) == "contracts[0].lines[4].date: is required for a one_time line"
    line(data, 4)["date"] = "2026-01-15"
    del line(data, 4)["amount"]
    assert refused(data) == "contracts[0].lines[4].amount: is required for a one_time line"


def test_fields_of_another_kind(data) -> None:
    line(data, 0)["meter"] = "api_calls"
    assert refused(data) == ("contracts[0].lines[0].meter: does not apply to a recurring_fee line "
                             "(its fields: amount, timing, revenue_rule)")


def test_revenue_rule_of_another_kind(data) -> None:
    line(data, 0)["revenue_rule"] = "as_consumed"
    assert refused(data) == ("contracts[0].lines[0].revenue_rule: as_consumed does not apply to a recurring_fee "
                             "line (expected ratable_daily or point_in_time)")


def test_negative_amount(data) -> None:
    line(data, 0)["amount"] = "-5"
    assert refused(data) == "contracts[0].lines[0].amount: -5 is negative"


# --- amendments -------------------------------------------------------------------------------

def test_amendment_on_the_start_date_or_after_the_end(data) -> None:
    data["amendments"][0]["effective_date"] = "2026-01-15"
    assert refused(data) == ("amendments[0].effective_date: 2026-01-15 is outside contract K1 (an amendment takes "
                             "effect after its start 2026-01-15 and on or before its end 2027-01-14)")
    data["amendments"][0]["effective_date"] = "2027-01-15"
    assert refused(data).startswith("amendments[0].effective_date: 2027-01-15 is outside contract K1")
    data["amendments"][0]["effective_date"] = "2027-01-14"  # the last day is still inside
    parse_scenario(data, base_dir=HERE)


def test_amendment_of_a_field_that_cannot_be_amended(data) -> None:
    data["amendments"][0]["set"] = {"timing": "in_arrears"}
    assert refused(data) == ("amendments[0].set.timing: cannot be amended (an amendment may set amount, "
                             "included_quantity, price)")
    data["amendments"][0]["set"] = {"amout": 1200}
    assert refused(data) == ("amendments[0].set.amout: is not a line field (an amendment may set amount, "
                             "included_quantity, price)")


def test_amendment_of_a_field_the_kind_does_not_have(data) -> None:
    data["amendments"][0]["set"] = {"included_quantity": 10}
    assert refused(data) == ("amendments[0].set.included_quantity: does not apply to a recurring_fee line "
                             "(amendable on usage lines)")


def test_amendment_to_a_package_price(data) -> None:
    data["amendments"][1] = {"contract": "K1", "line": "K1-api", "effective_date": "2026-05-01",
                             "set": {"price": {"model": "package", "package_size": 10, "package_price": 5}}}
    assert refused(data) == ("amendments[1].set.price.model: package prices cannot be amended (an amendment may "
                             "set unit, graduated, volume, graduated_percentage)")


def test_amended_tiers_are_checked_like_a_line_s(data) -> None:
    data["amendments"][1] = {"contract": "K1", "line": "K1-api", "effective_date": "2026-05-01",
                             "set": {"price": {"model": "volume", "tiers": [{"up_to": 10, "unit_price": 5},
                                                                            {"up_to": 10, "unit_price": 4},
                                                                            {"up_to": None, "unit_price": 3}]}}}
    assert refused(data) == "amendments[1].set.price.tiers[1].up_to: 10 is not above the previous tier's 10"


def test_amendment_needs_set_or_cancel(data) -> None:
    del data["amendments"][0]["set"]
    assert refused(data).startswith("amendments[0].set: is required (the new terms)")
    data["amendments"][1]["set"] = {"included_quantity": 5}
    data["amendments"][0]["set"] = {"amount": 1}
    assert refused(data) == "amendments[1].set: cannot be combined with cancel: true"


def test_one_time_lines_cannot_be_cancelled(data) -> None:
    data["amendments"][1]["line"] = "K1-setup"
    assert refused(data) == ("amendments[1].cancel: a one_time line cannot be cancelled "
                             "(only recurring_fee, usage, minimum_commitment lines)")


def test_two_amendments_of_a_line_on_one_day(data) -> None:
    data["amendments"].append({"contract": "K1", "line": "K1-platform", "effective_date": "2026-04-21",
                               "set": {"amount": 900}})
    assert refused(data) == ("amendments[2].effective_date: amendments[0] already changes line K1-platform "
                             "on 2026-04-21")


def test_amendment_status(data) -> None:
    data["amendments"][0]["status"] = "draft"
    assert refused(data) == "amendments[0].status: 'draft' is not allowed (expected activated or pending)"


# --- values -----------------------------------------------------------------------------------

def test_unparseable_date(data) -> None:
    data["contracts"][0]["start_date"] = "2026-02-30"
    assert refused(data) == "contracts[0].start_date: '2026-02-30' is not a date (YYYY-MM-DD)"
    data["contracts"][0]["start_date"] = "15/01/2026"
    assert refused(data) == "contracts[0].start_date: '15/01/2026' is not a date (YYYY-MM-DD)"


def test_end_before_start(data) -> None:
    data["contracts"][0]["end_date"] = "2026-01-14"
    assert refused(data) == "contracts[0].end_date: 2026-01-14 is before the start_date 2026-01-15"


def test_timestamp_without_a_zone_or_unparseable(data) -> None:
    data["usage_events"][1]["timestamp"] = "2026-01-20T10:00:00"
    assert refused(data) == ("usage_events[1].timestamp: '2026-01-20T10:00:00' has no zone "
                             "(write e.g. 2026-01-20T10:00:00Z)")
    data["usage_events"][1]["timestamp"] = "yesterday"
    assert refused(data) == ("usage_events[1].timestamp: 'yesterday' is not an ISO 8601 timestamp with a zone "
                             "(e.g. 2026-01-20T10:00:00Z)")


def test_not_a_number(data) -> None:
    data["usage_events"][0]["quantity"] = "three"
    assert refused(data) == "usage_events[0].quantity: 'three' is not a decimal number"
    data["usage_events"][0]["quantity"] = ".inf"
    assert refused(data) == "usage_events[0].quantity: '.inf' is not a decimal number"


def test_more_decimals_than_the_warehouse_keeps(data) -> None:
    line(data, 1)["price"]["tiers"][0]["unit_price"] = "0.0000000001"
    assert refused(data) == ("contracts[0].lines[1].price.tiers[0].unit_price: 0.0000000001 has more than 9 "
                             "decimal places (the warehouse keeps 9)")


def test_currency_not_in_iso_4217_seed(data) -> None:
    data["customers"][0]["currency"] = "XYZ"
    assert refused(data) == ("customers[0].currency: 'XYZ' is not an ISO 4217 currency the warehouse knows "
                             "(dbt_project/seeds/currencies.csv)")


def test_unknown_subsidiary(data) -> None:
    data["customers"][0]["subsidiary"] = "APAC"
    assert refused(data) == "customers[0].subsidiary: 'APAC' is not a subsidiary (expected US or EU)"


def test_unknown_field(data) -> None:
    line(data, 0)["amout"] = 5
    assert refused(data) == "contracts[0].lines[0].amout: is not a field of the scenario format"


def test_invalid_choice(data) -> None:
    data["contracts"][0]["billing_frequency"] = "weekly"
    assert refused(data) == ("contracts[0].billing_frequency: 'weekly' is not allowed "
                             "(expected monthly, quarterly or annual)")


def test_missing_required_field(data) -> None:
    del data["as_of"]
    assert refused(data) == "as_of: is required"


def test_meter_needs_a_numeric_property_for_sum(data) -> None:
    data["meters"][0]["property"] = "user_id"
    assert refused(data) == ("meters[0].property: 'user_id' cannot be aggregated with sum "
                             "(a numeric event field: quantity or amount)")


def test_event_delivered_before_it_happened(data) -> None:
    data["usage_events"][0]["delivered_on"] = "2026-01-19"
    assert refused(data) == "usage_events[0].delivered_on: 2026-01-19 is before the event's own date 2026-01-20"


def test_negative_quantity(data) -> None:
    data["usage_events"][0]["quantity"] = -1
    assert refused(data) == "usage_events[0].quantity: -1 is negative"


# --- files ------------------------------------------------------------------------------------

def test_missing_usage_event_file(data) -> None:
    data["usage_event_files"] = ["events.jsonl", "missing.jsonl"]
    assert refused(data) == ("usage_event_files[1]: missing.jsonl does not exist "
                             "(paths are relative to the scenario file)")


def test_bad_line_in_a_usage_event_file(data, tmp_path) -> None:
    (tmp_path / "events.jsonl").write_text('{"id": "x", "customer": "C1", "meter": "api_calls", '
                                           '"timestamp": "2026-02-01T00:00:00Z", "quantity": 1}\n'
                                           '{"id": "y", "customer": "C1", "meter": "api_calls", '
                                           '"timestamp": "2026-02-01T00:00:00Z", "quantity": "1,5"}\n')
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, base_dir=tmp_path)
    assert str(caught.value) == "usage_event_files[0] (events.jsonl line 2).quantity: '1,5' is not a decimal number"


def test_invalid_yaml_and_repeated_keys(tmp_path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("scenario: x\nas_of: [2026-01-01\n")
    with pytest.raises(ScenarioError, match=r"^broken.yml: not valid YAML: line 3, column 1: "):
        load_scenario(broken)
    repeated = tmp_path / "repeated.yml"
    repeated.write_text("scenario: x\nas_of: 2026-01-01\nas_of: 2026-02-01\n")
    with pytest.raises(ScenarioError, match=r"^repeated.yml: not valid YAML: line 3, column 1: found the key "
                                            r"'as_of' twice$"):
        load_scenario(repeated)


def test_missing_scenario_file(tmp_path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.yml")


def test_the_cli_refuses_an_invalid_scenario_in_one_line(tmp_path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("            - {up_to: 10, unit_price: 6.5}",
                                                      "            - {up_to: 4, unit_price: 6.5}")
    scenario = tmp_path / "bad.yml"
    scenario.write_text(text)
    (tmp_path / "events.jsonl").write_text((HERE / "events.jsonl").read_text())
    result = subprocess.run([sys.executable, "-m", "meterledger", "simulate", str(scenario), "--json"],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == ("meterledger: error: contracts[0].lines[1].price.tiers[1].up_to: "
                             "4 is not above the previous tier's 5\n")
