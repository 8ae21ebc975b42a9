"""Run the NetSuite emulator: ``python -m emulators.netsuite --seed demo_data/netsuite/seed.json``.

Credentials come from the environment (``NETSUITE_ACCOUNT_ID``, ``NETSUITE_CONSUMER_KEY``,
``NETSUITE_CONSUMER_SECRET``, ``NETSUITE_TOKEN_ID``, ``NETSUITE_TOKEN_SECRET``). A fresh CA and
server certificate are written to ``--cert-dir``; one JSON line on stdout tells the base URL and
the CA bundle to verify against. With ``--state`` the state is loaded from that file when it
exists (unless ``--from-seed``) and written back on exit (SIGINT / SIGTERM).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from emulators.common.server import run_standalone
from emulators.common.tls import create_run_certificates
from emulators.netsuite.app import NetSuiteApp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators.netsuite", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=Path, help="seed file: {recordtype: [record, ...]}")
    parser.add_argument("--state", type=Path, help="state file loaded at start and saved on exit")
    parser.add_argument("--from-seed", action="store_true",
                        help="start from the seed alone, ignoring the saved state; the state is still saved on exit")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert-dir", type=Path, default=Path(".emulators/netsuite-tls"))
    parser.add_argument("--concurrency-limit", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every service request")
    args = parser.parse_args(argv)

    missing = [name for name in ("NETSUITE_ACCOUNT_ID", "NETSUITE_CONSUMER_KEY", "NETSUITE_CONSUMER_SECRET",
                                 "NETSUITE_TOKEN_ID", "NETSUITE_TOKEN_SECRET") if not os.environ.get(name)]
    if missing:
        print(f"missing environment variables: {', '.join(missing)}", file=sys.stderr)
        return 2
    app = NetSuiteApp(os.environ["NETSUITE_ACCOUNT_ID"], os.environ["NETSUITE_CONSUMER_KEY"],
                      os.environ["NETSUITE_CONSUMER_SECRET"], os.environ["NETSUITE_TOKEN_ID"],
                      os.environ["NETSUITE_TOKEN_SECRET"], concurrency_limit=args.concurrency_limit,
                      seed_file=args.seed, state_file=args.state, load_state=not args.from_seed,
                      latency=args.latency)
    certificates = create_run_certificates(args.cert_dir)
    return run_standalone(app, certificates, args.host, args.port, save=bool(args.state))


if __name__ == "__main__":
    sys.exit(main())
