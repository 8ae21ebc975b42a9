"""The CRM and ERP world the dbt stage bills the workload against: the demo-data generator's
customers, contracts and usage lines (its Salesforce and NetSuite seeds), and the usage lines
that can bill on the workload's day, so that the synthetic events hit real customers and meters.

Only the seeds are used: the generator is asked for a handful of events, its usage files are
ignored. The usage lines are read back from the generator's own model (same seed, same random
streams as ``generate``) and checked against the manifest it wrote. Each line's active window
comes along, so that the history days before the workload's day meter the lines active on each.
"""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

GENERATOR_SEED = 42
GENERATOR_DAYS = 90
# The workload's day sits two thirds into the generated range: contracts that started before the
# range run through it, most that start or end inside it are active, renewals have taken over.
DAYS_BEFORE_WORKLOAD_DAY = 60
GENERATOR_EVENTS = 1_000  # the generator's own usage files are not used


def write_context(folder: Path, *, customers: int, day: date) -> dict:
    """Write ``<folder>/salesforce/seed.json`` and ``<folder>/netsuite/seed.json`` for
    ``customers`` customers, and return the generator's summary with ``lines``: every
    (customer key, meter) of an Activated usage line whose term holds ``day``, sorted; and
    ``windows``: every Activated usage line's (customer key, meter, first day, last day)."""
    from emulators.demo_data import contracts as model
    from emulators.demo_data.generator import generate
    from emulators.demo_data.util import stream

    start_date = day - timedelta(DAYS_BEFORE_WORKLOAD_DAY)
    manifest = generate(folder, seed=GENERATOR_SEED, customers=customers, events=GENERATOR_EVENTS,
                        days=GENERATOR_DAYS, start_date=start_date)
    # The streams `generate` draws customers and contracts from: the same objects it wrote.
    people = model.build_customers(stream(GENERATOR_SEED, "customers"), customers)
    contracts = model.build_contracts(stream(GENERATOR_SEED, "contracts"), people, start_date,
                                      start_date + timedelta(GENERATOR_DAYS))
    counts = manifest["counts"]
    if (len(people), len(contracts)) != (counts["customers"], counts["contracts"]):
        raise SystemExit("bench: the demo generator's model no longer matches what generate() wrote "
                         f"({len(people)} customers, {len(contracts)} contracts against {counts})")
    lines, windows = set(), set()
    for contract in contracts:
        for line in contract.lines:
            window = model.active_window(contract, line) if line.kind == "usage" else None
            if window:
                windows.add((contract.customer.key, line.meter, window[0], window[1]))
            if window and window[0] <= day <= window[1]:
                lines.add((contract.customer.key, line.meter))
    if not lines:
        raise SystemExit(f"bench: no generated usage line is active on {day}")
    return {
        "generator": {"seed": GENERATOR_SEED, "customers": customers, "days": GENERATOR_DAYS,
                      "start_date": start_date.isoformat(), "events": GENERATOR_EVENTS},
        "contracts": counts["contracts"],
        "contracts_by_status": counts["contracts_by_status"],
        "usage_lines": counts["lines_by_kind"].get("usage", 0),
        "lines": sorted(lines),
        "windows": sorted(windows),
    }


def lines_on(windows: list[tuple[str, str, date, date]], day: date) -> list[tuple[str, str]]:
    """The (customer key, meter) pairs of the usage lines active on ``day``, sorted, once each."""
    return sorted({(customer, meter) for customer, meter, first, last in windows if first <= day <= last})
