"""A usage load that dies at a chosen point, the way a killed process dies: ``os._exit``, no
cleanup, no exception handlers, no flushed state. Run by test_interrupted_load.py as

    python crashing_usage_load.py POINT USAGE_ROOT WORKDIR

POINT: ``mid_extract`` (after two batches of files were read), ``after_extract``,
``after_normalize``, ``normalize_commit`` (dlt renamed the normalized package into the load
storage and had not yet deleted the extracted one: its two-move commit cut in half), ``mid_load`` (as the second load job of the events table starts; the first
is loaded and noted done), ``after_events_commit`` (the warehouse committed the second events
job, dlt had not yet noted it done: a rerun of the job would insert them twice), or ``slow_reads`` (no crash, but each batch of files takes a
while to read, like a slow bucket: the run an outside SIGKILL interrupts).
"""
from __future__ import annotations

import os
import sys
import time

from dlt.common.storages.load_storage import LoadStorage
from dlt.destinations import job_client_impl
from dlt.destinations.impl.duckdb import duck

from ingestion.pipelines import raw_pipeline
from ingestion.usage import source as usage_module

KILLED = 137


def _die() -> None:
    sys.stdout.flush()
    os._exit(KILLED)


def main(point: str, usage_root: str, workdir: str) -> None:
    # Several batches (Arrow path) and several SQL models (Parquet the warehouse reads), so
    # "mid extract" falls between two of them and the events table gets several load jobs.
    usage_module.BATCH_FILES = 50
    usage_module.MODEL_FILES = 20
    # The production pipeline: an events job starts once the one before it is noted done.
    pipeline = raw_pipeline("usage", os.path.join(workdir, "w.duckdb"), pipelines_dir=os.path.join(workdir, "pipelines"))
    # Each batch of the extraction goes through one of these: read into Arrow here, or planned
    # as a SQL model the load runs.
    batch_steps = ("_read_tagged_batch", "_parquet_model")
    if point == "mid_extract":
        batches = []

        def die_at_third_batch(step):
            def step_then_die(*args, **kwargs):
                batches.append(1)
                if len(batches) > 2:
                    _die()
                return step(*args, **kwargs)
            return step_then_die

        for name in batch_steps:
            setattr(usage_module, name, die_at_third_batch(getattr(usage_module, name)))
    if point == "slow_reads":
        def slowly(step):
            def slow_step(*args, **kwargs):
                time.sleep(0.3)
                return step(*args, **kwargs)
            return slow_step

        for name in batch_steps:
            setattr(usage_module, name, slowly(getattr(usage_module, name)))
    if point in ("mid_load", "after_events_commit"):
        # The second events job: the first is loaded and noted done, so the rerun must not
        # lose it when it clears the rows of the interrupted one.
        events_jobs = []

        def die_around(job_run):
            def run_and_die(self):
                if self.load_table_name != "usage_events":
                    return job_run(self)
                events_jobs.append(self)
                second = events_jobs.index(self) == 1  # jobs may run side by side
                if second and point == "mid_load":
                    _die()
                job_run(self)
                if second:
                    _die()
            return run_and_die

        duck.DuckDbCopyJob.run = die_around(duck.DuckDbCopyJob.run)
        job_client_impl.ModelLoadJob.run = die_around(job_client_impl.ModelLoadJob.run)

    if point == "normalize_commit":
        commit = LoadStorage.commit_new_load_package

        def commit_then_die(self, load_id):
            commit(self, load_id)
            _die()

        LoadStorage.commit_new_load_package = commit_then_die

    source = usage_module.usage_source(root=usage_root)
    if point in ("after_extract", "after_normalize", "normalize_commit"):
        pipeline.extract(source)
        if point in ("after_normalize", "normalize_commit"):
            pipeline.normalize()
        _die()
    pipeline.run(source)


if __name__ == "__main__":
    main(*sys.argv[1:])
