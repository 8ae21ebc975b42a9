"""Run the Salesforce emulator: ``python -m emulators.salesforce --seed demo_data/salesforce/seed.json``.

Creates a fresh CA and server certificate in ``--cert-dir``, serves HTTPS on loopback, prints one
JSON line (base URL, CA bundle) and, on SIGINT/SIGTERM, saves the records to ``--state`` if given
(loaded at start when it exists, unless ``--from-seed``).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from emulators.common.server import run_standalone
from emulators.common.tls import create_run_certificates
from emulators.salesforce.app import SalesforceApp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators.salesforce", description=__doc__)
    parser.add_argument("--seed", type=Path, help="seed file ({\"<Object>\": [record, ...]})")
    parser.add_argument("--state", type=Path, help="state file: loaded when it exists, written on exit")
    parser.add_argument("--from-seed", action="store_true",
                        help="start from the seed alone, ignoring the saved state; the state is still saved on exit")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert-dir", type=Path, required=True, help="where the run's CA and certificate go")
    parser.add_argument("--client-id", default=os.environ.get("SALESFORCE_CLIENT_ID"))
    parser.add_argument("--client-secret", default=os.environ.get("SALESFORCE_CLIENT_SECRET"))
    parser.add_argument("--api-version", default="62.0")
    parser.add_argument("--daily-api-limit", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every service request")
    args = parser.parse_args(argv)
    if not args.client_id or not args.client_secret:
        parser.error("--client-id/--client-secret (or SALESFORCE_CLIENT_ID/SALESFORCE_CLIENT_SECRET) are required")

    app = SalesforceApp(args.client_id, args.client_secret, api_version=args.api_version,
                        daily_api_limit=args.daily_api_limit, seed_file=args.seed, state_file=args.state,
                        load_state=not args.from_seed, latency=args.latency)
    certificates = create_run_certificates(args.cert_dir)
    return run_standalone(app, certificates, args.host, args.port, save=bool(args.state))


if __name__ == "__main__":
    sys.exit(main())
