"""dlt source for NetSuite: one merge resource per raw table, read through SuiteQL, incremental on
lastmodifieddate.

The cursor compares with ">=": records modified in the same second as the last load are read
again and merged on their key, so none is missed. dlt's own boundary deduplication is turned off
(``primary_key=()`` on the cursor): it would drop a record changed again within that second
because its key was already seen.

Lines (transaction lines, price tiers) have no last-modified date of their own: they are read for
the parents modified since the last load and replace that parent's lines (delete-insert on the
parent), so a line removed in NetSuite disappears from the warehouse too.
"""
from __future__ import annotations

from itertools import islice
from typing import Callable, Iterator, Mapping, Sequence

import dlt
from dlt.common.schema.typing import TSchemaContract

from ingestion.netsuite.tables import (
    LINE_TABLES,
    RECORD_TABLES,
    LineTable,
    RecordTable,
    check_custom_columns,
    custom_columns_for,
    lines_query,
    modified_since_query,
    parents_modified_since_query,
    row_model,
)
from meterledger.connections.netsuite import NetSuiteConnection

EPOCH = "1970-01-01 00:00:00"
# Parents per line query: well inside SuiteQL's 1,000 values per IN list and its query length.
LINE_PARENTS_PER_QUERY = 200
# New columns (custom fields named in configuration) evolve in; a value whose type changes fails
# the load naming its table and column, instead of landing in a variant column staging never reads.
SCHEMA_CONTRACT: TSchemaContract = {"tables": "evolve", "columns": "evolve", "data_type": "freeze"}


def _cursor():
    return dlt.sources.incremental("lastmodifieddate", initial_value=EPOCH, primary_key=())


def _record_resource(connect: Callable[[], NetSuiteConnection], table: RecordTable, custom: Sequence[str]):
    @dlt.resource(name=table.name, write_disposition="merge", primary_key="id",
                  columns=row_model(table, custom), schema_contract=SCHEMA_CONTRACT)
    def rows(modified=_cursor()) -> Iterator[dict]:
        # The table exists, with every declared column, even while NetSuite holds no such record.
        yield dlt.mark.materialize_table_schema()
        yield from connect().suiteql(modified_since_query(table, modified.last_value, custom))

    return rows


def _line_resource(connect: Callable[[], NetSuiteConnection], table: LineTable, custom: Sequence[str]):
    @dlt.resource(name=table.name, write_disposition={"disposition": "merge", "strategy": "delete-insert"},
                  primary_key=table.key, merge_key=table.parent_column,
                  columns=row_model(table, custom), schema_contract=SCHEMA_CONTRACT)
    def lines(modified=_cursor()) -> Iterator[dict]:
        yield dlt.mark.materialize_table_schema()
        connection = connect()
        # Only IDs and stamps: read whole before the line queries, so paging sees one result.
        parents = iter(list(connection.suiteql(parents_modified_since_query(table, modified.last_value))))
        while chunk := list(islice(parents, LINE_PARENTS_PER_QUERY)):
            stamps = {parent["id"]: parent["lastmodifieddate"] for parent in chunk}
            for line in connection.suiteql(lines_query(table, stamps, custom)):
                line["lastmodifieddate"] = stamps[line[table.parent_column]]
                yield line

    return lines


@dlt.source(name="netsuite")
def netsuite_source(connect: Callable[[], NetSuiteConnection],
                    custom_columns: Mapping[str, Sequence[str]] | None = None) -> Iterator:
    """``connect`` builds the connection when the load runs, never when the source is declared.

    ``custom_columns`` names the account's custom fields to load per raw table, e.g.
    ``{"journalentryline": ["custcol_credit_block_id"]}`` (custom field IDs differ per account).
    """
    check_custom_columns(custom_columns)
    for record_table in RECORD_TABLES:
        yield _record_resource(connect, record_table, custom_columns_for(record_table, custom_columns))
    for line_table in LINE_TABLES:
        yield _line_resource(connect, line_table, custom_columns_for(line_table, custom_columns))
