"""A usage load that dies at a chosen point, the way a killed process dies: ``os._exit``, no
cleanup, no exception handlers, no flushed state. Run by test_interrupted_load.py as

    python crashing_usage_load.py POINT USAGE_ROOT WORKDIR

POINT: ``mid_extract`` (after two batches of files were read), ``after_extract``,
``after_normalize``, ``mid_load`` (as the events table starts to load; other tables of the
package may be loaded already), ``after_events_commit`` (the warehouse committed the events,
dlt had not yet noted the job done: a rerun of the job would insert them twice), or ``slow_reads`` (no crash, but each batch of files takes a
while to read, like a slow bucket: the run an outside SIGKILL interrupts).
"""
from __future__ import annotations

import os
import sys
import time

import dlt
from dlt.destinations.impl.duckdb import duck

from ingestion.usage import source as usage_module

KILLED = 137


def _die() -> None:
    sys.stdout.flush()
    os._exit(KILLED)


def main(point: str, usage_root: str, workdir: str) -> None:
    usage_module.BATCH_FILES = 50  # several batches, so "mid extract" falls between two of them
    pipeline = dlt.pipeline(pipeline_name="usage", dataset_name="raw_usage",
                            destination=dlt.destinations.duckdb(credentials=os.path.join(workdir, "w.duckdb")),
                            pipelines_dir=os.path.join(workdir, "pipelines"))
    if point == "mid_extract":
        read = usage_module.read_parquet_files
        batches = []

        def read_then_die(*args, **kwargs):
            batches.append(1)
            if len(batches) > 2:
                _die()
            return read(*args, **kwargs)

        usage_module.read_parquet_files = read_then_die
    if point == "slow_reads":
        read_slowly = usage_module.read_parquet_files

        def read_parquet_files(*args, **kwargs):
            time.sleep(0.3)
            return read_slowly(*args, **kwargs)

        usage_module.read_parquet_files = read_parquet_files
    if point in ("mid_load", "after_events_commit"):
        def copy_and_die(self):
            if self.load_table_name == "usage_events" and point == "mid_load":
                _die()
            copy(self)
            if self.load_table_name == "usage_events":
                _die()

        copy = duck.DuckDbCopyJob.run
        duck.DuckDbCopyJob.run = copy_and_die

    source = usage_module.usage_source(root=usage_root)
    if point in ("after_extract", "after_normalize"):
        pipeline.extract(source)
        if point == "after_normalize":
            pipeline.normalize()
        _die()
    pipeline.run(source)


if __name__ == "__main__":
    main(*sys.argv[1:])
