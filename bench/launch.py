"""Start one stage and report its peak memory: ``python -m bench.launch STAGE ARGS...``.

Why a launcher between `make bench` and the stage: Linux counts into a new process's peak
resident memory (ru_maxrss) the memory of the process it was started from, up to its exec
(with vfork, which Python's subprocess uses, the parent's own peak). Started straight from the
bench's process, which has generated the workload with DuckDB, every stage would show at least
the bench's peak (400 MiB at 200,000 events). This small process starts the stage instead, so
the stage's figure is its own (with the processes it waited for: dbt's, Dagster's), and prints
it as the last line of standard output, after the stage's own.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

if __name__ == "__main__":
    process = subprocess.Popen([sys.executable, "-m", "bench.stages", *sys.argv[1:]])
    _, status, usage = os.wait4(process.pid, 0)
    sys.stdout.flush()
    print(json.dumps({"peak_memory_kib": usage.ru_maxrss}), flush=True)  # KiB on Linux
    sys.exit(os.waitstatus_to_exitcode(status))
