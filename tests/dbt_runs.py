"""dbt as the tests run it over warehouses of their own: in this process, on one parse of the
project per session.

A dbt command in a process of its own spends about 8 s before it starts working here: 4 to 5 s
importing dbt, then parsing the project (15 s from scratch, 3 s from an earlier parse's state),
and the tests run many short dbt commands. So the project is parsed once, in this process, and
every command gets the parsed project (``dbtRunner(manifest=...)``, as ``meterledger simulate``
does for each scenario); it is parsed again when a file of the project changes. Each command
still reads the profile, with the warehouse it is given, and compiles every node it runs.

In a process that lives on, dbt-duckdb would keep the warehouse file open (with settings of its
own) after the command; it is closed after every command, so the test reads the file, and the
next command opens its own. What dbt prints comes back as text, as a dbt process would print it.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "dbt_project"
# The warehouse file's stem is dbt's database name, which the parsed project carries: every
# warehouse given to run_dbt has this name (in a folder of its own), as in production.
WAREHOUSE_NAME = "meterledger.duckdb"

_parsed: dict[str, object] = {}  # project fingerprint -> the parsed project (dbt's Manifest)


@dataclass
class DbtRun:
    success: bool
    output: str  # what dbt prints at info level and above, as on its console
    result: object  # dbtRunnerResult.result: run results, the compiled nodes


def _project_args(target: Path) -> list[str]:
    return ["--project-dir", str(PROJECT), "--profiles-dir", str(REPO), "--target-path", str(target)]


def _fingerprint() -> str:
    """Changes whenever a file of the dbt project does (another parse is then due)."""
    files = [path for folder in ("models", "macros", "seeds", "tests", "snapshots", "analyses")
             for path in (PROJECT / folder).rglob("*") if path.is_file()]
    files += [PROJECT / "dbt_project.yml", REPO / "profiles.yml"]
    return f"{len(files)}:{max(path.stat().st_mtime_ns for path in files)}"


def _invoke(args: list[str], environment: dict[str, str], manifest=None, callbacks=None):
    from dbt.cli.main import dbtRunner

    from meterledger.simulate.run import _release_warehouse  # what `meterledger simulate` does after dbt

    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **environment}.items():
            patch.setenv(name, value)
        try:
            return dbtRunner(manifest=manifest, callbacks=callbacks).invoke(args)
        finally:
            _release_warehouse()


def parsed_project():
    """The session's parse of the dbt project (without vars, as the tests run dbt)."""
    key = _fingerprint()
    if key not in _parsed:
        with tempfile.TemporaryDirectory(prefix="meterledger-tests-dbt-parse-") as folder:
            work = Path(folder)
            # Only the parsed project is wanted: no manifest.json, no partial-parse state on disk.
            result = _invoke(["parse", "--quiet", "--no-write-json", "--no-partial-parse", *_project_args(work / "target"),
                              "--log-path", str(work / "logs")], {"METERLEDGER_WAREHOUSE": str(work / WAREHOUSE_NAME)})
        assert result.success, f"dbt could not parse the project: {result.exception}"
        _parsed.clear()
        _parsed[key] = result.result
    return _parsed[key]


def run_dbt(args: list[str], warehouse: Path, target: Path, *, env: dict[str, str] | None = None) -> DbtRun:
    """``dbt <args>`` over ``warehouse`` (named meterledger.duckdb), its artifacts in ``target``;
    ``env``: more environment variables for the command. No ``--vars``: the project is parsed
    without them."""
    assert warehouse.name == WAREHOUSE_NAME, f"the parsed project reads database {Path(WAREHOUSE_NAME).stem!r}"
    assert "--vars" not in args, "the session's parse of the project has no vars"
    manifest = parsed_project()
    lines: list[str] = []

    def console(event) -> None:
        if event.info.level in ("info", "warn", "error") and event.info.msg:
            lines.append(event.info.msg)

    result = _invoke([*args, *_project_args(target)], {**(env or {}), "METERLEDGER_WAREHOUSE": str(warehouse)},
                     manifest=manifest, callbacks=[console])
    if result.exception is not None:
        lines.append(f"{type(result.exception).__name__}: {result.exception}")
    return DbtRun(success=result.success, output="\n".join(lines), result=result.result)
