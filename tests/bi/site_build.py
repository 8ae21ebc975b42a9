"""The finance site built in the background from the session's end-to-end run.

Evidence's build takes over a minute of mostly one core; started as soon as the run has
published, it overlaps the rest of the suite, and the page tests (moved to the end of the
session by tests/conftest.py) wait for it."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

from meterledger.bi import BI_DIR, build_site
from meterledger.publish import CURRENT, RELEASES, current_release

LEFT_OUT = {"node_modules", "build", ".evidence", "build.log", "test-screenshots"}


def copy_project(target: Path) -> Path:
    """bi/ without its installed packages and outputs, its node_modules linked in: the build
    writes into the copy and leaves a developer's own bi/build alone."""
    shutil.copytree(BI_DIR, target, ignore=lambda folder, names: LEFT_OUT & set(names) if folder == str(BI_DIR) else [])
    (target / "node_modules").symlink_to(BI_DIR / "node_modules", target_is_directory=True)
    return target


class BackgroundSiteBuild:
    def __init__(self, published: Path, warehouse: Path, workdir: Path):
        # The publication and the warehouse as they are now, copied: later tests change the
        # warehouse (a tampered invoice, reruns) and publish again, and the pages are checked
        # against what they were built from.
        release = current_release(published)
        if release is None:
            raise RuntimeError(f"the run published nothing in {published}")
        self.published = workdir / "published"
        shutil.copytree(release, self.published / RELEASES / release.name)
        (self.published / CURRENT).symlink_to(Path(RELEASES) / release.name, target_is_directory=True)
        self.warehouse = workdir / "warehouse-as-published.duckdb"
        shutil.copy(warehouse, self.warehouse)
        self.project = copy_project(workdir / "bi")
        self._site: Path | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._build, name="bi-site-build", daemon=True)
        self._thread.start()

    def _build(self) -> None:
        try:
            self._site = build_site(self.published, bi_dir=self.project, log_path=self.project / "build.log")
        except BaseException as error:  # handed to the test that waits
            self._error = error

    def site(self, timeout: float = 900) -> Path:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the finance site build did not finish in {timeout}s: {self.project / 'build.log'}")
        if self._error is not None:
            raise self._error
        return self._site
