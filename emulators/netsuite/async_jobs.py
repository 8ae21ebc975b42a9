"""Asynchronous requests: jobs made of tasks, run in order by one background worker.

A job is ``pending`` until every task ran, then ``succeeded`` when all tasks succeeded and
``failed`` when any failed (each task keeps its own result: the response the synchronous request
would have had). ``X-NetSuite-Idempotency-Key`` names a job; a key seen before is refused and
points at the job it first created.
"""
from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from emulators.common.http import Response

log = logging.getLogger(__name__)


@dataclass
class Task:
    id: str
    request_uri: str
    work: Callable[[], Response] | None
    progress: str = "pending"
    result: Response | None = None

    @property
    def completed(self) -> bool:
        return self.progress != "pending"


@dataclass
class Job:
    id: str
    tasks: list[Task]
    idempotency_key: str | None = None
    created: float = field(default_factory=time.time)

    @property
    def completed(self) -> bool:
        return all(task.completed for task in self.tasks)

    @property
    def progress(self) -> str:
        if not self.completed:
            return "pending"
        return "failed" if any(task.progress == "failed" for task in self.tasks) else "succeeded"

    def task(self, task_id: str) -> Task | None:
        return next((task for task in self.tasks if task.id == task_id), None)


class AsyncJobs:
    def __init__(self, delay: float = 0.1) -> None:
        self.delay = delay
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._keys: dict[str, str] = {}
        self._job_ids = itertools.count(1)
        self._task_ids = itertools.count(1)
        self._queue: queue.Queue[Job] = queue.Queue()
        self._running = threading.Event()
        self._running.set()
        self._worker: threading.Thread | None = None

    def submit(self, key: str | None, units: list[tuple[str, Callable[[], Response]]]) -> tuple[Job, bool]:
        """Queue a job; with a key already used, return the original job and False instead."""
        with self._lock:
            if key is not None and key in self._keys:
                return self._jobs[self._keys[key]], False
            job = Job(str(next(self._job_ids)),
                      [Task(str(next(self._task_ids)), uri, work) for uri, work in units], key)
            self._jobs[job.id] = job
            if key is not None:
                self._keys[key] = job.id
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="netsuite-async", daemon=True)
                self._worker.start()
        self._queue.put(job)
        return job, True

    def job(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()
            self._keys.clear()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if self.delay:
                time.sleep(self.delay)
            for task in job.tasks:
                self._running.wait()
                try:
                    result = task.work() if task.work else Response.empty(204)
                except Exception:  # the work wraps NetSuite errors; this is an emulator bug
                    log.exception("netsuite: async task %s failed", task.id)
                    result = Response.empty(500)
                task.result = result
                task.work = None
                task.progress = "succeeded" if result.status < 400 else "failed"
