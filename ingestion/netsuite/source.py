"""dlt source for NetSuite: one merge resource per SuiteQL table, incremental on lastmodifieddate.

The cursor compares with ">=": records modified in the same second as the last load are read
again and merged on their internal ID, so none is missed.
"""
from __future__ import annotations

from typing import Callable, Iterator

import dlt

from ingestion.netsuite.tables import TABLE_COLUMNS, column_hints, suiteql_for
from meterledger.connections.netsuite import NetSuiteConnection

EPOCH = "1970-01-01 00:00:00"


def _table_resource(connect: Callable[[], NetSuiteConnection], table: str):
    @dlt.resource(name=table, write_disposition="merge", primary_key="id", columns=column_hints(table))
    def rows(modified=dlt.sources.incremental("lastmodifieddate", initial_value=EPOCH)) -> Iterator[dict]:
        yield from connect().suiteql(suiteql_for(table, modified.last_value))

    return rows


@dlt.source(name="netsuite")
def netsuite_source(connect: Callable[[], NetSuiteConnection]) -> Iterator:
    """``connect`` builds the connection when the load runs, never when the source is declared."""
    for table in TABLE_COLUMNS:
        yield _table_resource(connect, table)
