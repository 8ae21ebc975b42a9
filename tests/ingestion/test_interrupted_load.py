"""A usage load killed in the middle and run again ends complete, with no event row twice.

The crash happens in a child process (crashing_usage_load.py) at each point where a load can die
with different work persisted; the rerun is the plain production source.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ingestion.pipelines import finish_interrupted_load, raw_pipeline
from ingestion.usage import usage_source

HARNESS = Path(__file__).with_name("crashing_usage_load.py")
REPO = Path(__file__).resolve().parents[2]


def _run_harness(point: str, usage_root: Path, workdir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(HARNESS), point, str(usage_root), str(workdir)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _rerun(workdir: Path, usage_root: Path) -> None:
    """What the usage asset does: finish the interrupted load, then load what is new."""
    pipeline = raw_pipeline("usage", workdir / "w.duckdb", pipelines_dir=workdir / "pipelines")
    finish_interrupted_load(pipeline)
    pipeline.run(usage_source(root=str(usage_root)))


def _assert_complete_once(workdir: Path, manifest: dict, files: int) -> None:
    with duckdb.connect(str(workdir / "w.duckdb"), read_only=True) as connection:
        [(rows, distinct_rows)] = connection.execute(
            "select count(*), count(distinct (file_name, file_version, file_row)) from raw_usage.usage_events"
        ).fetchall()
        [(file_rows, versions)] = connection.execute(
            "select count(*), max(file_version) from raw_usage.usage_files").fetchall()
    assert rows == manifest["events_written"]
    assert distinct_rows == rows
    assert (file_rows, versions) == (files, 1)


@pytest.fixture
def event_files(small_demo_data):
    data_dir, manifest = small_demo_data
    usage_root = data_dir / "usage"
    files = sum(1 for path in usage_root.rglob("*") if path.suffix in (".jsonl", ".parquet"))
    return usage_root, manifest, files


@pytest.mark.parametrize("point", ["mid_extract", "after_extract", "after_normalize", "normalize_commit",
                                   "mid_load",
                                   "after_events_commit"])
def test_a_load_killed_at_each_step_completes_on_the_next_run(point, tmp_path, event_files):
    usage_root, manifest, files = event_files
    crashed = _run_harness(point, usage_root, tmp_path)
    _, stderr = crashed.communicate(timeout=120)
    assert crashed.returncode == 137, stderr.decode()[-2000:]

    _rerun(tmp_path, usage_root)
    _assert_complete_once(tmp_path, manifest, files)
    _rerun(tmp_path, usage_root)  # and a further run finds nothing new
    _assert_complete_once(tmp_path, manifest, files)


def test_a_load_killed_from_outside_while_it_writes_completes_on_the_next_run(tmp_path, event_files):
    """SIGKILL as an operator or the OOM killer sends it, once the load has written something."""
    usage_root, manifest, files = event_files
    running = _run_harness("slow_reads", usage_root, tmp_path)
    extracting = tmp_path / "pipelines" / "usage" / "normalize"
    deadline = time.monotonic() + 60
    while running.poll() is None and time.monotonic() < deadline:
        if any(extracting.glob("*/*/new_jobs/*")):
            break
        time.sleep(0.01)
    time.sleep(0.4)  # a batch or so further into the extraction
    running.send_signal(signal.SIGKILL)
    running.communicate(timeout=60)
    assert running.returncode == -signal.SIGKILL  # it was killed, not finished

    _rerun(tmp_path, usage_root)
    _assert_complete_once(tmp_path, manifest, files)
