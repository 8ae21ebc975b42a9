"""Finance's pages (the Evidence project in bi/): build the static site from the published marts,
and serve it on loopback.

The site is built from the Parquet copy the daily run publishes (meterledger/publish.py), never
from the warehouse file. Evidence reads it through its DuckDB connector; the folder reaches the
source queries as EVIDENCE_VAR__published_dir. Evidence's telemetry is off (evidence.settings.json
and the environment).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from meterledger.publish import current_release

REPO_ROOT = Path(__file__).resolve().parent.parent
BI_DIR = REPO_ROOT / "bi"
# The pages, as routes of the built site; each has a dbt exposure (models/marts/_bi__exposures.yml).
PAGES = ("/", "/revenue/", "/deferred-revenue/", "/mrr/", "/customers/", "/reconciliation/", "/credits/")


class BiError(RuntimeError):
    pass


def default_published_dir() -> Path:
    return Path(os.environ.get("METERLEDGER_PUBLISHED_DIR") or REPO_ROOT / "warehouse" / "published")


def build_site(published_dir: Path, bi_dir: Path = BI_DIR, log_path: Path | None = None) -> Path:
    """Evidence's `sources` then `build:strict` (a query error fails the build, not the page).
    Returns the folder of the static site."""
    published_dir = Path(published_dir).resolve()
    if current_release(published_dir) is None:
        raise BiError(f"nothing published in {published_dir} yet: run `make demo` (or the daily job) first")
    if shutil.which("npm") is None:
        raise BiError("npm is not on PATH: install Node.js 18 or newer")
    if not (bi_dir / "node_modules" / ".bin" / "evidence").exists():
        raise BiError(f"Evidence is not installed in {bi_dir}: run `make bi-install` (npm ci)")
    environment = {
        **os.environ,
        "EVIDENCE_VAR__published_dir": str(published_dir),
        "SEND_ANONYMOUS_USAGE_STATS": "no",
        "NODE_OPTIONS": os.environ.get("NODE_OPTIONS", "--max-old-space-size=4096"),
    }
    log = (log_path or bi_dir / "build.log")
    with log.open("w") as output:
        for script in ("sources", "build:strict"):
            done = subprocess.run(["npm", "run", script], cwd=bi_dir, env=environment,
                                  stdout=output, stderr=subprocess.STDOUT, check=False)
            if done.returncode != 0:
                raise BiError(f"`npm run {script}` in {bi_dir} failed (exit {done.returncode}): "
                              f"{_tail(log)}\nfull log: {log}")
    return bi_dir / "build"


@dataclass
class SiteServer:
    """The static site on a loopback port, in a background thread."""

    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _SiteHandler(SimpleHTTPRequestHandler):
    """The built files only: a folder without an index.html is a 404, not a listing."""

    quiet = False

    def list_directory(self, path):
        self.send_error(404, "Not Found")
        return None

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        if not self.quiet:
            super().log_message(format, *args)


class _QuietSiteHandler(_SiteHandler):
    quiet = True


def start_server(site: Path, host: str = "127.0.0.1", port: int = 0, quiet: bool = True) -> SiteServer:
    if not (Path(site) / "index.html").exists():
        raise BiError(f"no built site in {site}: run `make bi` first")
    handler = functools.partial(_QuietSiteHandler if quiet else _SiteHandler, directory=str(site))
    server = ThreadingHTTPServer((host, port), handler)
    thread = threading.Thread(target=server.serve_forever, name="bi-site", daemon=True)
    thread.start()
    return SiteServer(server, thread)


def _tail(log: Path, lines: int = 15) -> str:
    text = [line for line in log.read_text(errors="replace").splitlines()
            if line.strip() and "Unknown user config" not in line and "Unknown env config" not in line]
    return "\n".join(text[-lines:])
