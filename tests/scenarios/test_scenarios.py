"""Every scenario fixture through the production pipeline: ``tests/scenarios/<name>.yml`` must give
the ``usage_records`` and ``invoice_lines`` of ``<name>.expected.json`` (README.md beside them), and
its ``revenue_schedule`` and ``journal_entries`` where the fixture states them.

Which sections a fixture states: every array its expected file has. ``usage_records`` and
``invoice_lines`` are required; ``revenue_schedule`` and ``journal_entries`` are compared when
present (fixtures 37 on state them; 01-36 were worked out for billing before revenue recognition
existed and leave them out rather than claim an empty schedule).

Each scenario is simulated with ``meterledger.simulate.simulate`` (what ``meterledger simulate``
runs): its own emulators, temporary warehouse, dlt loads and dbt build. The scenarios of the
session are started together on a pool of worker processes (``METERLEDGER_SCENARIO_WORKERS``,
default: two, or one on a one-CPU machine; 1 runs them in this process), each worker parsing
the dbt project once; each test then waits for its own scenario. Both sides are compared as sets
of rows in a canonical order; a mismatch shows the rows that differ, field by field.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCENARIOS = sorted(HERE.glob("*.yml"))
# A fixture whose expected file is {"refused": "<message>"} pins a reading the project refuses:
# load_scenario must refuse the file with exactly that one-line message (docs/scenarios.md).
REFUSED = "refused"


def refusal(scenario_file: Path) -> str | None:
    """The message a refusal fixture expects, else None."""
    expected_file = scenario_file.with_name(f"{scenario_file.stem}.expected.json")
    if not expected_file.exists():
        return None
    return json.loads(expected_file.read_text(encoding="utf-8")).get(REFUSED)
BILLING_SECTIONS = ("usage_records", "invoice_lines")
REVENUE_SECTIONS = ("revenue_schedule", "journal_entries")
EXTENSION_SECTIONS = ("meter_property_gaps",)  # docs/scenarios.md, "Output"
# What identifies a row, to pair an expected row with the produced one in a diff.
IDENTITY = {
    "usage_records": ("external_id",),
    "invoice_lines": ("contract", "line", "kind", "period_start", "period_end"),
    "revenue_schedule": ("contract", "line", "accounting_period"),
    "journal_entries": ("external_id",),
    "meter_property_gaps": ("line", "meter", "period_start"),
}


def simulate_file(path: str) -> dict:
    """The output document of one scenario file (run in a worker process). A failure comes back
    as a RuntimeError carrying the original error and its traceback, which always pickles."""
    from meterledger.simulate import load_scenario, simulate

    try:
        return simulate(load_scenario(path)).document
    except Exception as error:  # noqa: BLE001 - reported by the test of this scenario
        raise RuntimeError(f"{type(error).__name__}: {error}\n{traceback.format_exc()}") from None


def _workers() -> int:
    configured = os.environ.get("METERLEDGER_SCENARIO_WORKERS")
    if configured:
        return max(1, int(configured))
    return min(2, os.cpu_count() or 1)


@pytest.fixture(scope="module")
def simulations(request):
    """Scenario file -> Future of its document, for the scenarios this session runs."""
    selected = [item.callspec.params["scenario_file"] for item in request.session.items
                if item.module is request.module and hasattr(item, "callspec")
                and refusal(item.callspec.params["scenario_file"]) is None]
    workers = _workers()
    if workers == 1:
        yield _InProcess()
        return
    pool = ProcessPoolExecutor(max_workers=min(workers, max(1, len(selected))),
                               mp_context=multiprocessing.get_context("spawn"))
    try:
        yield {path: pool.submit(simulate_file, str(path)) for path in selected}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _InProcess(dict):
    """The sequential fallback: each scenario simulated when its test asks for it."""

    def __getitem__(self, path: Path) -> Future:
        future: Future = Future()
        try:
            future.set_result(simulate_file(str(path)))
        except Exception as error:  # noqa: BLE001
            future.set_exception(error)
        return future


def compared_sections(scenario_file: Path, expected: dict) -> tuple[str, ...]:
    """The arrays a fixture is checked on: the billing ones (required), and the revenue ones and
    extensions it states."""
    missing = [section for section in BILLING_SECTIONS if section not in expected]
    assert not missing, f"{scenario_file.name}: the expected file has no {', '.join(missing)}"
    return BILLING_SECTIONS + tuple(section for section in REVENUE_SECTIONS + EXTENSION_SECTIONS
                                    if section in expected)


def canonical(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))


def _one_line(row: dict) -> str:
    return json.dumps(row, separators=(", ", ": "))


def _changes(expected: dict, actual: dict, prefix: str = "") -> list[str]:
    """The fields that differ; lists of rows of the same length (a journal entry's lines) field by
    field, as ``lines[2].credit`` (numbered from 1, like the entry's line numbers)."""
    changes: list[str] = []
    for field in sorted(set(expected) | set(actual)):
        want, got = expected.get(field), actual.get(field)
        if want == got:
            continue
        if (isinstance(want, list) and isinstance(got, list) and len(want) == len(got)
                and all(isinstance(item, dict) for item in want + got)):
            for number, (want_item, got_item) in enumerate(zip(want, got), start=1):
                changes += _changes(want_item, got_item, f"{prefix}{field}[{number}].")
            continue
        changes.append(f"{prefix}{field}: expected {want!r}, got {got!r}")
    return changes


def describe_difference(section: str, expected: list[dict], actual: list[dict]) -> str:
    """The rows that differ: changed fields of rows found on both sides (paired by identity),
    then rows missing from the output and rows the output has but the fixture does not."""
    identity = IDENTITY[section]

    def key(row: dict) -> tuple:
        return tuple(row.get(field) for field in identity)

    remaining = list(actual)
    lines: list[str] = []
    missing: list[dict] = []
    for row in expected:
        if row in remaining:
            remaining.remove(row)
            continue
        partner = next((other for other in remaining if key(other) == key(row)), None)
        if partner is None:
            missing.append(row)
            continue
        remaining.remove(partner)
        lines.append(f"  {' '.join(str(part) for part in key(row))}: " + "; ".join(_changes(row, partner)))
    lines += [f"  missing:    {_one_line(row)}" for row in missing]
    lines += [f"  unexpected: {_one_line(row)}" for row in remaining]
    return f"{section} differ ({len(expected)} expected, {len(actual)} produced):\n" + "\n".join(lines)


@pytest.mark.parametrize("scenario_file", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_scenario(scenario_file: Path, simulations) -> None:
    expected_file = scenario_file.with_name(f"{scenario_file.stem}.expected.json")
    assert expected_file.exists(), f"{expected_file.name} is missing"
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    if REFUSED in expected:
        from meterledger.simulate import ScenarioError, load_scenario

        with pytest.raises(ScenarioError) as refused:
            load_scenario(scenario_file)
        assert str(refused.value) == expected[REFUSED]
        return
    produced = simulations[scenario_file].result()
    problems = [describe_difference(section, canonical(expected[section]), canonical(produced[section]))
                for section in compared_sections(scenario_file, expected)
                if canonical(expected[section]) != canonical(produced[section])]
    assert not problems, f"{scenario_file.name}:\n" + "\n".join(problems)


def test_describe_difference_names_the_fields_that_differ() -> None:
    expected = [{"external_id": "K1-api:api_calls:2026-01-01", "amount": "2.56", "status": "final"},
                {"external_id": "K1-api:api_calls:2026-02-01", "amount": "0.00", "status": "final"}]
    actual = [{"external_id": "K1-api:api_calls:2026-01-01", "amount": "2.57", "status": "final"},
              {"external_id": "K1-api:api_calls:2026-03-01", "amount": "0.00", "status": "provisional"}]
    text = describe_difference("usage_records", expected, actual)
    assert "K1-api:api_calls:2026-01-01: amount: expected '2.56', got '2.57'" in text
    assert 'missing:    {"external_id": "K1-api:api_calls:2026-02-01"' in text
    assert 'unexpected: {"external_id": "K1-api:api_calls:2026-03-01"' in text


def test_describe_difference_pairs_revenue_rows_by_their_identity() -> None:
    expected = [{"contract": "K1", "line": "K1-api", "accounting_period": "2026-03", "recognized": "45.00"}]
    actual = [{"contract": "K1", "line": "K1-api", "accounting_period": "2026-03", "recognized": "58.00"}]
    text = describe_difference("revenue_schedule", expected, actual)
    assert "K1 K1-api 2026-03: recognized: expected '45.00', got '58.00'" in text
    entry = {"external_id": "je:K1:breakage:2026-02", "entry_type": "breakage",
             "lines": [{"debit": "55.00", "credit": "0.00"}, {"debit": "0.00", "credit": "55.00"}]}
    produced = {**entry, "lines": [{"debit": "54.00", "credit": "0.00"}, {"debit": "0.00", "credit": "54.00"}]}
    text = describe_difference("journal_entries", [entry], [produced])
    assert ("je:K1:breakage:2026-02: lines[1].debit: expected '55.00', got '54.00'; "
            "lines[2].credit: expected '55.00', got '54.00'") in text
    text = describe_difference("journal_entries", [entry], [{**entry, "lines": entry["lines"][:1]}])
    assert "je:K1:breakage:2026-02: lines: expected [" in text


def test_compared_sections_are_the_ones_the_expected_file_states() -> None:
    billing_only = {"usage_records": [], "invoice_lines": []}
    assert compared_sections(Path("23-prepaid.yml"), billing_only) == BILLING_SECTIONS
    stated = {**billing_only, "revenue_schedule": [], "journal_entries": []}
    assert compared_sections(Path("37-ratable.yml"), stated) == BILLING_SECTIONS + REVENUE_SECTIONS
    with pytest.raises(AssertionError, match="no invoice_lines"):
        compared_sections(Path("38-usage.yml"), {"usage_records": []})
