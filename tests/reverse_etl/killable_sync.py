"""A NetSuite sync in its own process, for a test to kill with SIGKILL midway:

    python -m tests.reverse_etl.killable_sync WAREHOUSE OBJECT BASE_URL CA_BUNDLE
"""
from __future__ import annotations

import sys
from types import SimpleNamespace

import duckdb

from reverse_etl.engine import run_sync
from reverse_etl.mapping import load_mapping
from reverse_etl.netsuite import NetSuiteDestination
from tests.reverse_etl.netsuite_sync_helpers import connection_to


def main(warehouse: str, object_name: str, base_url: str, ca_bundle: str) -> None:
    client = SimpleNamespace(base_url=base_url, ca_bundle=ca_bundle)
    destination = NetSuiteDestination(connection_to(client), concurrency=2, poll_interval=0.05)
    with duckdb.connect(warehouse) as connection:
        run_sync(connection, destination, object_name, load_mapping("netsuite").objects[object_name])


if __name__ == "__main__":
    main(*sys.argv[1:])
