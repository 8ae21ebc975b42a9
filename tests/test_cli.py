"""The `meterledger` command line, run as a user runs it: a separate process."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from meterledger.connections.netsuite import netsuite_connection_from
from meterledger.connections.salesforce import salesforce_connection_from


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meterledger", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_a_bad_option_is_one_clear_line(tmp_path):
    result = _cli("demo-data", "--output", str(tmp_path / "out"), "--start-date", "2026-02-30")
    assert result.returncode != 0
    assert "--start-date" in result.stderr and "is not a date" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failure_is_one_line_and_a_traceback_only_with_debug(tmp_path):
    result = _cli("demo-data", "--output", str(tmp_path / "out"), "--customers", "10000")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("meterledger: error:") and "customers" in lines[0]
    debug = _cli("--debug", "demo-data", "--output", str(tmp_path / "out"), "--customers", "10000")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_demo_data_writes_the_manifest(tmp_path):
    result = _cli("demo-data", "--output", str(tmp_path / "out"), "--customers", "6", "--events", "2000",
                  "--days", "35")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "manifest.json").exists()
    assert "2000 event rows" in result.stdout


def _read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return dict(pairs)


def test_emulators_command_writes_an_env_file_clients_can_use(tmp_path, small_demo_data):
    data_dir, manifest = small_demo_data
    env_file = tmp_path / ".env.emulators"
    process = subprocess.Popen(
        [sys.executable, "-m", "meterledger", "emulators", "--state-dir", str(tmp_path / "state"),
         "--seed-dir", str(data_dir), "--env-file", str(env_file), "--netsuite-port", "0",
         "--salesforce-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not env_file.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert env_file.exists(), process.stderr.read() if process.poll() is not None else "no env file"
        env = _read_env_file(env_file)
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        assert Path(env["NETSUITE_CA_BUNDLE"]).is_absolute() and Path(env["NETSUITE_CA_BUNDLE"]).exists()
        assert "PATH" not in env
        netsuite = netsuite_connection_from(env)
        customers = list(netsuite.suiteql("SELECT id, externalid FROM customer"))
        assert len(customers) == manifest["counts"]["customers"]
        salesforce = salesforce_connection_from(env)
        accounts = list(salesforce.query("SELECT Id, Customer_Key__c FROM Account"))
        assert sorted(a["Customer_Key__c"] for a in accounts) == sorted(c["externalid"] for c in customers)
        assert env["METERLEDGER_WAREHOUSE"].endswith("warehouse/meterledger.duckdb")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0
    assert (tmp_path / "state" / "netsuite-state.json").exists()
    assert (tmp_path / "state" / "salesforce-state.json").exists()
    # The secrets live in the env file only, never on the console.
    output = process.stdout.read() + process.stderr.read()
    assert env["NETSUITE_TOKEN_SECRET"] not in output and env["SALESFORCE_CLIENT_SECRET"] not in output
