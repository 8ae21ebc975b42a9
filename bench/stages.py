"""The measured stages. Each runs in its own process (``python -m bench.stages STAGE ...``) so
that its wall time and peak memory are its own; the parent reads both back."""
from __future__ import annotations

import json
import sys
import time


def read_parquet(data_root: str, database: str) -> dict:
    """DuckDB loading the same files into a table of its own: the ceiling for any loader."""
    import duckdb

    from ingestion.pipelines import duckdb_settings

    # The same settings the warehouse loads with, so both sides insert and spill alike.
    with duckdb.connect(database, config=duckdb_settings()) as con:
        started = time.perf_counter()
        con.execute(f"create table events as select * from read_parquet('{data_root}/**/*.parquet')")
        seconds = time.perf_counter() - started
        rows = con.execute("select count(*) from events").fetchone()[0]
        return {"seconds": seconds, "rows": rows}


def ingestion(data_root: str, database: str) -> dict:
    """The production usage source through a dlt pipeline into a DuckDB warehouse."""
    import duckdb

    from ingestion.pipelines import raw_pipeline
    from ingestion.usage import usage_source

    pipeline = raw_pipeline("usage", database)
    started = time.perf_counter()
    pipeline.run(usage_source(root=data_root))
    seconds = time.perf_counter() - started
    trace = pipeline.last_trace
    steps = {step.step: (step.finished_at - step.started_at).total_seconds() for step in trace.steps}
    with duckdb.connect(database, read_only=True) as con:
        rows = con.execute("select count(*) from raw_usage.usage_events").fetchone()[0]
    return {"seconds": seconds, "rows": rows, "steps": steps}


STAGES = {"read_parquet": read_parquet, "ingestion": ingestion}

if __name__ == "__main__":
    stage, *arguments = sys.argv[1:]
    print(json.dumps(STAGES[stage](*arguments)))
