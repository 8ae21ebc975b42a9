"""The recovery stage: a journal-entry sync killed after NetSuite applied every entry, and the run
after it, which must settle every record left ``sending`` by reading them back in sets (issue 21:
"a 10,000-record kill-and-rerun stays within a few seconds of read-back").

The entries are pushed for real at no added latency (10,000 one-record PUTs at the bench's 0.1 s
would take minutes); then the ledger is put as a kill leaves it (every entry written ahead,
``sending``, no outcome recorded: the engine marks a whole send ahead in one statement) and the
emulator's latency is set to the bench's 0.1 s before the rerun is timed.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

from bench.stages import SYNC_LATENCY, SYNC_PERIOD, SYNC_PREFIX, _netsuite_seed, private_netsuite

JOURNAL_COLUMNS = ("sync_key varchar, external_id varchar, subsidiary_id varchar, currency_id varchar, "
                   "posting_period_id varchar, transaction_date date, memo varchar, line_number integer, "
                   "account_id varchar, debit decimal(38, 9), credit decimal(38, 9), entity_id varchar, "
                   "line_memo varchar, credit_block_id varchar")
RECOVERY_CONCURRENCY = 4


def _seed() -> dict[str, list[dict]]:
    return {**_netsuite_seed(), "account": [
        {"id": "10", "acctNumber": "4000", "acctName": "Usage revenue", "acctType": "Income"},
        {"id": "12", "acctNumber": "2400", "acctName": "Deferred revenue", "acctType": "DeferRevenue"}]}


def _warehouse(database: str, entries: int):
    """``entries`` balanced two-line journal entries, amounts with cents, as dbt leaves the model."""
    import duckdb

    connection = duckdb.connect(database)
    connection.execute("create schema reverse_etl_sync")
    connection.execute(f"create table reverse_etl_sync.sync_netsuite__journal_entries ({JOURNAL_COLUMNS})")
    connection.execute(f"""
        insert into reverse_etl_sync.sync_netsuite__journal_entries
        with entries as (
            select i, '{SYNC_PREFIX}je:' || lpad(i::varchar, 6, '0') || ':revenue_recognition:2026-08' as external_id,
                   ((hash(i) % 10000000) + 1)::decimal(38, 9) / 100 as amount
            from range({entries}) as r(i)
        )
        select external_id || ':' || line, external_id, '1', '1', '101', date '{SYNC_PERIOD[1]}',
               'bench entry ' || i, line, case line when 1 then '12' else '10' end,
               case line when 1 then amount else 0 end, case line when 2 then amount else 0 end, '1',
               case line when 1 then 'deferred revenue' else 'revenue' end, case when i % 3 = 0 then 'CB-' || i end
        from entries, (values (1), (2)) as lines(line)
    """)
    return connection


def recovery(work_dir: str, entries: str) -> dict:
    from reverse_etl.engine import run_sync
    from reverse_etl.mapping import load_mapping
    from reverse_etl.netsuite import NetSuiteDestination

    expected = int(entries)
    work = Path(work_dir)
    with private_netsuite(work, _seed()) as (connection, base_url):
        def control(method: str, path: str, payload: dict | None = None):
            return connection.session.request(method, f"{base_url}/_emulator/{path}", json=payload, timeout=60)

        destination = NetSuiteDestination(connection, concurrency=RECOVERY_CONCURRENCY)
        mapping = load_mapping("netsuite").objects["journal_entries"]
        warehouse = _warehouse(str(work / "warehouse.duckdb"), expected)
        control("POST", "latency", {"seconds": 0})
        started = time.perf_counter()
        pushed = run_sync(warehouse, destination, "journal_entries", mapping)
        push_seconds = time.perf_counter() - started
        if pushed.succeeded != expected:
            raise SystemExit(f"bench recovery: the push synced {pushed.succeeded:,} of {expected:,} entries "
                             f"({pushed.errors[:3]})")
        # As a kill after NetSuite applied every entry leaves the ledger.
        warehouse.execute("update reverse_etl.sync_ledger set status = 'sending', synced_hash = null")
        control("POST", "latency", {"seconds": SYNC_LATENCY})
        control("DELETE", "requests")
        read_back = destination.read_back
        marks: dict[str, float] = {}

        def timed_read_back(*arguments, **options):
            marks.setdefault("read_back_started", time.perf_counter())
            try:
                return read_back(*arguments, **options)
            finally:
                marks["read_back_finished"] = time.perf_counter()

        destination.read_back = timed_read_back
        started = time.perf_counter()
        rerun = run_sync(warehouse, destination, "journal_entries", mapping)
        seconds = time.perf_counter() - started
        log = control("GET", "requests").json()["requests"]
        held = list(connection.suiteql(
            f"SELECT count(*) AS n FROM transaction WHERE externalid LIKE '{SYNC_PREFIX}je:%'"))
        warehouse.close()
    queries = sum(1 for entry in log if entry["path"].endswith("/query/v1/suiteql"))
    writes = sum(1 for entry in log if entry["write"])
    held_count = int(held[0]["n"])
    if (rerun.confirmed_by_read_back, writes, held_count) != (expected, 0, expected):
        raise SystemExit(f"bench recovery: the rerun confirmed {rerun.confirmed_by_read_back:,} of {expected:,} "
                         f"entries by read-back and wrote {writes:,} times; NetSuite holds {held_count:,}")
    return {
        "seconds": seconds,
        "rows": expected,
        "read_back_seconds": marks["read_back_finished"] - marks["read_back_started"],
        "read_back_queries": queries,
        "query_bound": math.ceil(expected / 100),
        "requests": len(log),
        "push_seconds": round(push_seconds, 2),
        "held_in_netsuite": held_count,
        "latency_seconds": SYNC_LATENCY,
        "concurrency": RECOVERY_CONCURRENCY,
    }
