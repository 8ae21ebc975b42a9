"""`meterledger sync`: settings, the warehouse's write lock, progress and the printed plan."""
from __future__ import annotations

import os
import re
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import duckdb

from reverse_etl.ledger import SCHEMA, SyncResult
from reverse_etl.syncs import DESTINATIONS, destination_from, sync_destination

PROGRESS_EVERY = 2.0  # seconds between progress lines on a long sync
# Exit codes by the worst outcome of a run (README, "Reverse ETL"); 1 stays a command error.
EXIT_CODES = {"planned": 0, "complete": 0, "incomplete": 3, "refused": 4}
# Dates, periods and IDs in a blocked reason: reasons that differ only in these are one kind.
_SPECIFICS = re.compile(r"\d{4}-\d{2}-\d{2}(\.\.\d{4}-\d{2}-\d{2})?|\b\d{4}-\d{2}\b|internal id \d+|\bfor \S+$")


def reason_kinds(reasons: list[str], top: int = 5) -> list[tuple[str, int, str]]:
    """(kind, count, one example) of the commonest kinds of blocked reason."""
    kinds: Counter = Counter()
    examples: dict[str, str] = {}
    for reason in reasons:
        kind = _SPECIFICS.sub("…", reason)
        kinds[kind] += 1
        examples.setdefault(kind, reason)
    return [(kind, count, examples[kind]) for kind, count in kinds.most_common(top)]


def read_settings(env_file: Path | None) -> dict[str, str]:
    """The env file's settings under the process environment (which wins)."""
    from dotenv import dotenv_values

    from_file = dotenv_values(env_file) if env_file is not None and env_file.exists() else {}
    return {**{key: value for key, value in from_file.items() if value is not None}, **os.environ}


def _progress(destination: str):
    def for_object(object_name: str):
        last = [0.0]

        def report(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY or done == total:
                last[0] = now
                print(f"  {destination} {object_name}: {done}/{total} records answered", file=sys.stderr, flush=True)
        return report
    return for_object


def outcome_of(results: list[SyncResult]) -> str:
    """The run's outcome: its worst object's (refused, then incomplete, then complete)."""
    outcomes = {result.outcome for result in results}
    return next((name for name in ("refused", "incomplete", "complete") if name in outcomes),
                "planned" if outcomes else "complete")


def outcome_line(results: list[SyncResult]) -> str:
    """One line an operator (or a cron mail) reads: the outcome and the records by outcome."""
    total = {name: sum(getattr(result, name) for result in results) for name in (
        "succeeded", "unchanged", "retry", "unknown", "failed", "dead_lettered", "held_dead_letters",
        "missing_values", "blocked")}
    held = total["blocked"] - total["held_dead_letters"] - total["missing_values"]
    outcome = outcome_of(results)
    stopped = [result for result in results if result.status == "stopped"]
    return (f"outcome: {outcome} (exit {EXIT_CODES[outcome]}): {total['succeeded']} synced, {total['unchanged']} "
            f"unchanged, {held} held by their model, {total['retry']} to send again, {total['unknown']} unknown, "
            f"{total['failed']} refused ({total['dead_lettered']} dead-lettered), {total['held_dead_letters']} "
            f"dead letters held, {total['missing_values']} missing a required value"
            + (f"; stopped: {stopped[0].stop_reason}" if stopped else ""))


def run_sync_command(*, destinations: list[str], objects: list[str], dry_run: bool, retry_dead_letters: bool,
                     warehouse: Path | None, env_file: Path | None) -> tuple[str, int]:
    """The printed summary and the exit code: 0 only when every planned record ended synced,
    unchanged or held by its model (a dry run: 0)."""
    settings = read_settings(env_file)
    for name in destinations:
        if name not in DESTINATIONS:
            raise ValueError(f"--destination {name!r}: choose one of {', '.join(DESTINATIONS)}")
    path = warehouse or Path(settings.get("METERLEDGER_WAREHOUSE", "warehouse/meterledger.duckdb"))
    if not path.exists():
        raise ValueError(f"warehouse {path} does not exist: run `make demo` or the daily job first")
    try:
        connection = duckdb.connect(str(path))
    except duckdb.IOException as error:
        raise RuntimeError(f"warehouse {path} is busy (DuckDB allows one writer; is a run going?): {error}") from None
    run_id = uuid.uuid4().hex
    lines = [f"{'dry run' if dry_run else 'sync'} {run_id} on {path}"]
    every: list[SyncResult] = []
    try:
        for name in destinations or DESTINATIONS:
            results = sync_destination(connection, destination_from(name, settings), objects=objects or None,
                                       run_id=run_id, dry_run=dry_run, retry_dead_letters=retry_dead_letters,
                                       settings=settings, progress=_progress(name))
            every += results
            lines += [_describe(result) for result in results]
            lines += _blocked_reasons(connection, results)
    finally:
        connection.close()
    if dry_run:
        lines.append(f"nothing sent; the plan, record by record, is in {SCHEMA}.sync_plan")
    else:
        lines.append(outcome_line(every))
    return "\n".join(lines), EXIT_CODES[outcome_of(every)]


def _describe(result: SyncResult) -> str:
    planned = (f"{result.destination} {result.object_name}: {result.planned} planned: {result.to_create} create, "
               f"{result.to_update} update, {result.unchanged} unchanged, {result.blocked} blocked")
    if result.dry_run:
        return planned
    sent = (f"; sent {result.sent}: {result.succeeded} synced, {result.retry} to retry, {result.unknown} unknown, "
            f"{result.failed} failed ({result.dead_lettered} dead-lettered)")
    if result.confirmed_by_read_back:
        sent += f"; {result.confirmed_by_read_back} found already in place by read-back"
    if result.status == "stopped":
        sent += f"; STOPPED: {result.stop_reason}"
    errors = "".join(f"\n    {error}" for error in result.errors[:5])
    return planned + sent + errors


def _blocked_reasons(connection: duckdb.DuckDBPyConnection, results: list[SyncResult]) -> list[str]:
    lines = []
    for result in results:
        if not result.blocked:
            continue
        reasons = [reason for (reason,) in connection.execute(
            f"select reason from {SCHEMA}.sync_plan where destination = ? and object_name = ? and action = 'blocked'",
            [result.destination, result.object_name]).fetchall()]
        for _, count, example in reason_kinds(reasons):
            lines.append(f"    blocked x{count}, e.g. {example}")
    return lines
