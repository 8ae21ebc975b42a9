"""The `meterledger` command line. Errors print as one line unless --debug is given."""
from __future__ import annotations

import logging
import sys
from datetime import date
from pathlib import Path

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="meterledger: the usage-based-billing warehouse between meters, Salesforce and NetSuite.")
_state = {"debug": False}


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks and debug logs.")) -> None:
    _state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command("demo-data")
def demo_data(
    output: Path = typer.Option(Path("demo_data"), help="Folder to write the demo data into (replaced)."),
    seed: int = typer.Option(42, help="Random seed: the same seed gives the same files."),
    customers: int = typer.Option(200, min=1, help="Number of customers."),
    events: int = typer.Option(1_000_000, min=1, help="Approximate number of usage events."),
    days: int = typer.Option(90, min=1, help="Days of usage."),
    start_date: str = typer.Option("2026-08-01", help="First day of usage (YYYY-MM-DD)."),
) -> None:
    """Generate the deterministic demo data set: usage files and the emulators' seeds."""
    from emulators.demo_data.generator import generate

    manifest = generate(output, seed=seed, customers=customers, events=events, days=days,
                        start_date=_parse_date(start_date, "--start-date"))
    bad = manifest.get("bad_events", {})
    typer.echo(f"wrote {output}: {manifest.get('events_written', '?')} event rows, "
               f"{sum(bad.values())} of them bad or late ({', '.join(f'{k} {v}' for k, v in sorted(bad.items()))})")


@app.command()
def emulators(
    state_dir: Path = typer.Option(Path("warehouse/emulators"), help="Certificates and persisted emulator state."),
    seed_dir: Path = typer.Option(Path("demo_data"), help="Demo data folder holding salesforce/ and netsuite/ seeds."),
    env_file: Path = typer.Option(Path(".env.emulators"), help="Where to write URLs, credentials and the CA path."),
    netsuite_port: int = typer.Option(8443, help="NetSuite emulator port on 127.0.0.1 (0: any free port)."),
    salesforce_port: int = typer.Option(8444, help="Salesforce emulator port on 127.0.0.1 (0: any free port)."),
    from_seeds: bool = typer.Option(False, "--from-seeds", help="Start from the seeds alone, ignoring the state "
                                    "saved by an earlier run; the state is still saved on exit."),
) -> None:
    """Run both emulators in the foreground until interrupted."""
    from emulators.common.server import stop_signal
    from emulators.runner import EmulatorStack, write_env_file
    from meterledger.pipeline import pipeline_environment

    stopped = stop_signal()  # handled before the env file is out: a SIGTERM right after it must still save
    stack = EmulatorStack(state_dir=state_dir, seed_dir=seed_dir if seed_dir.exists() else None,
                          netsuite_port=netsuite_port, salesforce_port=salesforce_port, from_seeds=from_seeds)
    with stack:
        destinations = stack.environment()
        # The pipeline settings too, so `make dagster-dev` can source this one file.
        write_env_file(env_file, pipeline_environment(
            destinations, Path("warehouse/meterledger.duckdb").resolve(), (seed_dir / "usage").resolve()))
        typer.echo(f"NetSuite emulator:   {stack.netsuite_server.base_url}  "
                   f"(account {destinations['NETSUITE_ACCOUNT_ID']})")
        typer.echo(f"Salesforce emulator: {stack.salesforce_server.base_url}")
        typer.echo(f"CA bundle: {stack.certificates.ca_bundle}")
        typer.echo(f"Credentials and URLs written to {env_file}; Ctrl-C stops and saves state to {state_dir}.")
        stopped.wait()


@app.command()
def demo(
    data_dir: Path = typer.Option(Path("demo_data"), help="Demo data folder (generated when missing)."),
    warehouse: Path = typer.Option(Path("warehouse/meterledger.duckdb"), help="DuckDB warehouse file."),
    customers: int = typer.Option(200, min=1, help="Customers, when the demo data is generated."),
    events: int = typer.Option(1_000_000, min=1, help="Usage events, when the demo data is generated."),
    days: int = typer.Option(90, min=1, help="Days of usage, when the demo data is generated."),
    seed: int = typer.Option(42, help="Random seed, when the demo data is generated."),
) -> None:
    """Generate demo data, start the emulators, materialize every asset and print a summary."""
    from meterledger.demo import DemoOptions, run_demo

    summary = run_demo(DemoOptions(data_dir=data_dir, warehouse=warehouse, customers=customers,
                                   events=events, days=days, seed=seed, debug=_state["debug"]))
    typer.echo(summary)


@app.command()
def simulate(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO.yml", help="Scenario file (docs/scenarios.md)."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON document of the scenario format."),
    keep: bool = typer.Option(False, "--keep", help="Keep the temporary warehouse and logs; print their folder."),
) -> None:
    """Bill a scenario with the production pipeline on an isolated temporary warehouse."""
    import json

    from meterledger.simulate import load_scenario, render_table, simulate as run_simulation
    from meterledger.simulate.output import property_gap_warnings

    scenario = load_scenario(scenario_file)
    result = run_simulation(scenario, keep=keep)
    if as_json:
        typer.echo(json.dumps(result.document, indent=2))
        for warning in property_gap_warnings(result.document):  # the table shows them itself
            typer.echo(warning, err=True)
    else:
        typer.echo(render_table(result.document, scenario), nl=False)
    if result.workdir is not None:
        typer.echo(f"kept the simulation's folder: {result.workdir}", err=True)


@app.command()
def sync(
    destination: list[str] = typer.Option([], "--destination", "-d",
                                          help="netsuite or salesforce (repeatable; default: both)."),
    objects: list[str] = typer.Option([], "--object", help="Only this object of the mapping (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Write the plan (reverse_etl.sync_plan) and send nothing."),
    retry_dead_letters: bool = typer.Option(False, "--retry-dead-letters",
                                            help="Send dead-lettered records again, even unchanged."),
    warehouse: Path = typer.Option(None, help="DuckDB warehouse (default: $METERLEDGER_WAREHOUSE, "
                                              "else warehouse/meterledger.duckdb)."),
    env_file: Path = typer.Option(Path(".env.emulators"), help="Settings file read when present "
                                                               "(the environment wins)."),
) -> None:
    """Push what the sync_* models say should exist to NetSuite and Salesforce: only new or changed
    records, every outcome in the reverse_etl ledger. Exits 0 when every planned record ended synced,
    unchanged or held by its model; 3 when some are left for a later run (to send again, outcome
    unknown, the daily API limit reached); 4 when some were refused or need a person (dead letters,
    missing required values); 1 on an error before or around the sync."""
    from meterledger.sync_command import run_sync_command

    summary, code = run_sync_command(destinations=destination, objects=objects, dry_run=dry_run,
                                     retry_dead_letters=retry_dead_letters, warehouse=warehouse, env_file=env_file)
    typer.echo(summary)
    if code:
        raise typer.Exit(code)


@app.command()
def trace(
    external_id: str = typer.Argument(..., metavar="EXTERNAL_ID",
                                      help="A NetSuite usage record ID (<line key>:<meter>:<period start>[:adj<n>]) "
                                           "or journal entry ID (je:<contract>:<entry type>:<YYYY-MM>)."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole trace as JSON (amounts as strings)."),
    all_events: bool = typer.Option(False, "--all", help="List every event, not only the first ones of each table."),
    warehouse: Path = typer.Option(None, help="DuckDB warehouse, opened read-only (default: $METERLEDGER_WAREHOUSE, "
                                              "else warehouse/meterledger.duckdb)."),
) -> None:
    """Trace a usage record or journal entry back to its contract line, pricing version, billing
    period and usage events (file and row)."""
    from meterledger.trace import run_trace_command

    typer.echo(run_trace_command(external_id, warehouse=warehouse, as_json=as_json, all_events=all_events), nl=False)


bi_app = typer.Typer(help="Finance's pages (Evidence, in bi/) on the published marts.", no_args_is_help=True)
app.add_typer(bi_app, name="bi")


@bi_app.command("build")
def bi_build(
    published_dir: Path = typer.Option(None, "--published", help="The publication folder (default: "
                                       "$METERLEDGER_PUBLISHED_DIR, else warehouse/published)."),
) -> None:
    """Build the static site (bi/build) from the published marts."""
    from meterledger.bi import build_site, default_published_dir

    site = build_site(published_dir or default_published_dir())
    typer.echo(f"Finance pages built into {site}; `make bi-serve` serves them on 127.0.0.1.")


@bi_app.command("serve")
def bi_serve(
    port: int = typer.Option(3001, help="Port on 127.0.0.1 (3000 is the Dagster UI's)."),
) -> None:
    """Serve the built site on loopback until interrupted."""
    from emulators.common.server import wait_for_stop_signal
    from meterledger.bi import BI_DIR, start_server

    server = start_server(BI_DIR / "build", port=port, quiet=False)
    typer.echo(f"Finance pages on {server.base_url}/ (Ctrl-C stops)")
    try:
        wait_for_stop_signal()
    finally:
        server.stop()


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


def run() -> None:
    """Entry point: a failure is one clear line on stderr, a traceback only with --debug."""
    try:
        code = app(standalone_mode=False)  # click answers a command's typer.Exit code here
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as error:  # the CLI's last line of defence: report, don't dump
        if _state["debug"]:
            raise
        if hasattr(error, "format_message"):  # a usage error from the option parser
            error = error.format_message()
        typer.echo(f"meterledger: error: {error}", err=True)
        sys.exit(1)
