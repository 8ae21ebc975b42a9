"""dlt source for Salesforce: one merge resource per object, incremental on SystemModstamp.

queryAll returns deleted records too, so a deletion reaches the warehouse as ``IsDeleted`` rather
than leaving a stale row behind.
"""
from __future__ import annotations

from typing import Callable, Iterator

import dlt

from ingestion.salesforce.objects import OBJECT_FIELDS, column_hints, soql_for, table_name
from meterledger.connections.salesforce import SalesforceConnection

EPOCH = "1970-01-01T00:00:00.000Z"


def _object_resource(connect: Callable[[], SalesforceConnection], sobject: str):
    @dlt.resource(name=table_name(sobject), write_disposition="merge", primary_key="Id",
                  columns=column_hints(sobject))
    def records(
        modstamp=dlt.sources.incremental("SystemModstamp", initial_value=EPOCH),
    ) -> Iterator[dict]:
        since = modstamp.last_value.replace("+0000", "Z")
        for record in connect().query(soql_for(sobject, since), include_deleted=True):
            record.pop("attributes", None)
            yield record

    return records


@dlt.source(name="salesforce")
def salesforce_source(connect: Callable[[], SalesforceConnection]) -> Iterator:
    """``connect`` builds the connection when the load runs, never when the source is declared."""
    for sobject in OBJECT_FIELDS:
        yield _object_resource(connect, sobject)
