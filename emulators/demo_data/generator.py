"""Entry point of the deterministic demo-data generator.

    generate(Path("demo_data"))            # ~200 customers, ~1M events over 90 days

Same arguments -> byte-identical files: every random draw comes from a named stream derived
from `seed`, nothing reads the clock, JSON keys are sorted and the Parquet writer options fixed.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from . import contracts as model
from . import events as usage
from . import netsuite_seed, salesforce_seed
from .util import dumps_seed, dumps_small, stream

# Only what the generator itself writes is removed on a re-run, never the rest of output_dir.
OWNED = ("usage", "salesforce", "netsuite", "manifest.json")


def _clean(output_dir: Path) -> None:
    for name in OWNED:
        p = output_dir / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()


def _counts(customers, contracts, sf: dict, ns: dict) -> dict:
    lines = [ln for c in contracts for ln in c.lines]
    amendments = [a for c in contracts for a in c.amendments]

    def tally(values) -> dict:
        return dict(sorted(Counter(v for v in values if v is not None).items()))

    return {
        "customers": len(customers),
        "customers_by_currency": tally(c.currency for c in customers),
        "customers_by_subsidiary": tally(c.subsidiary for c in customers),
        "contracts": len(contracts),
        "contracts_by_status": tally(c.status for c in contracts),
        "contracts_by_billing_frequency": tally(c.frequency for c in contracts),
        "contracts_by_billing_anchor": tally(c.anchor for c in contracts),
        "contract_lines": len(lines),
        "lines_by_kind": tally(ln.kind for ln in lines),
        "usage_lines_by_charge_model": tally(ln.price_model for ln in lines if ln.kind == "usage"),
        "recurring_fees_by_timing": tally(ln.timing for ln in lines if ln.kind == "recurring_fee"),
        "one_time_by_revenue_rule": tally(ln.revenue_rule for ln in lines if ln.kind == "one_time"),
        "prepaid_credits_by_breakage": tally(ln.breakage for ln in lines if ln.kind == "prepaid_credit"),
        "amendments": len(amendments),
        "amendments_by_type": tally(a.type for a in amendments),
        "amendments_by_status": tally(a.status for a in amendments),
        "salesforce_records": {k: len(v) for k, v in sorted(sf.items())},
        "netsuite_records": {k: len(v) for k, v in sorted(ns.items())},
    }


def generate(output_dir: Path, *, seed: int = 42, customers: int = 200, events: int = 1_000_000,
             days: int = 90, start_date: date = date(2026, 8, 1)) -> dict:
    """Write the demo data set under output_dir and return its manifest (also manifest.json).

    Layout: usage/<source>/<YYYY-MM-DD>/events-<n>.(jsonl|parquet), usage/<source>/_watermark.json,
    salesforce/seed.json, netsuite/seed.json, manifest.json.
    """
    if not 1 <= customers <= 9999:
        raise ValueError("customers must be between 1 and 9999 (keys are C0001..C9999)")
    if events < 0 or days < 1:
        raise ValueError("events must be >= 0 and days >= 1")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    _clean(output_dir)
    range_end = start_date + timedelta(days)

    custs = model.build_customers(stream(seed, "customers"), customers)
    contracts = model.build_contracts(stream(seed, "contracts"), custs, start_date, range_end)
    ns, ns_ids = netsuite_seed.build(stream(seed, "netsuite"), custs, contracts, start_date, range_end)
    sf = salesforce_seed.build(stream(seed, "salesforce"), custs, contracts, ns_ids, start_date, data_defects=True)
    for system, data in (("salesforce", sf), ("netsuite", ns)):
        (output_dir / system).mkdir()
        (output_dir / system / "seed.json").write_text(dumps_seed(data), encoding="utf-8")

    usage_info = usage.write_usage(output_dir / "usage", seed, custs, contracts, start_date, days, events)
    manifest = {
        "generator": "emulators.demo_data",
        "format_version": 1,
        "seed": seed,
        "args": {"customers": customers, "events": events, "days": days,
                 "start_date": start_date.isoformat(), "seed": seed},
        "date_range": {"start": start_date.isoformat(),
                       "end": (range_end - timedelta(1)).isoformat(),  # inclusive
                       "days": days},
        "files": {"salesforce_seed": "salesforce/seed.json", "netsuite_seed": "netsuite/seed.json",
                  "usage_root": "usage"},
        "counts": _counts(custs, contracts, sf, ns),
        # Contract lines the warehouse must quarantine, by reason (salesforce_seed.TOO_FINE_AMOUNT).
        "bad_contract_lines": {"amount_finer_than_currency": [
            line["Line_Key__c"] for line in sf["Contract_Line__c"]
            if line["Line_Key__c"].endswith(salesforce_seed.TOO_FINE_LINE_SUFFIX)]},
        **usage_info,
    }
    (output_dir / "manifest.json").write_text(dumps_small(manifest), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Write the meterledger demo data set.")
    ap.add_argument("output_dir", type=Path)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--customers", type=int, default=200)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--start-date", type=date.fromisoformat, default=date(2026, 8, 1))
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    m = generate(a.output_dir, seed=a.seed, customers=a.customers, events=a.events, days=a.days,
                 start_date=a.start_date)
    print(f"{m['events_written']} events, {m['counts']['contracts']} contracts "
          f"in {time.perf_counter() - t0:.1f}s -> {a.output_dir}")


if __name__ == "__main__":
    main()
