"""dlt source for Salesforce: one merge resource per object, incremental on SystemModstamp.

queryAll returns deleted records too, so a deletion reaches the warehouse as ``IsDeleted`` rather
than leaving a stale row behind. The cursor (the newest SystemModstamp loaded) lives in dlt state.
"""
from __future__ import annotations

from typing import Callable, Iterator

import dlt

from ingestion.salesforce.objects import OBJECT_FIELDS, column_hints, soql_for, table_name
from meterledger.connections.salesforce import SalesforceConnection

EPOCH = "1970-01-01T00:00:00.000Z"

# Staging casts these columns to its own types: a field whose values stop fitting the declared
# type fails the load naming the column (dlt refuses the variant column it would otherwise add),
# while a field added to the object list becomes a new column.
SCHEMA_CONTRACT = {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}


def _soql_datetime(stamp: str) -> str:
    # Salesforce writes the zone as +0000, which SOQL refuses in a literal.
    return stamp.replace("+0000", "Z")


def _object_resource(connect: Callable[[], SalesforceConnection], sobject: str):
    @dlt.resource(name=table_name(sobject), write_disposition="merge", primary_key="Id",
                  columns=column_hints(sobject), schema_contract=SCHEMA_CONTRACT)
    def records(
        modstamp=dlt.sources.incremental("SystemModstamp", initial_value=EPOCH),
    ) -> Iterator[dict]:
        query = soql_for(sobject, _soql_datetime(modstamp.last_value))
        for record in connect().query(query, include_deleted=True):
            record.pop("attributes", None)
            yield record

    return records


@dlt.source(name="salesforce")
def salesforce_source(connect: Callable[[], SalesforceConnection]) -> Iterator:
    """``connect`` builds the connection when the load runs, never when the source is declared."""
    for sobject in OBJECT_FIELDS:
        yield _object_resource(connect, sobject)
