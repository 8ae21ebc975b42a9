"""The daily partitions: a partition is a delivery day (UTC) of the usage files, the day folder
they land in (``<root>/<source>/<YYYY-MM-DD>/``). Materializing day D means "the warehouse
holds every delivery through D"; a backfill over a range runs as one run (one dlt load, one dbt
invocation)."""

from dagster import BackfillPolicy, DailyPartitionsDefinition, PartitionKeyRange

# Earlier deliveries are loaded by the first partition run (its window starts at the beginning
# of time for what the source holds); the date only bounds what the UI offers to backfill.
usage_delivery_days = DailyPartitionsDefinition(start_date="2025-01-01", timezone="UTC")

one_run_per_backfill = BackfillPolicy.single_run()

# Every step that writes the warehouse takes a slot of this pool; dagster.yaml gives each pool
# one slot, so runs started by the schedule and by sensors write one at a time (DuckDB allows
# one writer per file).
WAREHOUSE_POOL = "meterledger_warehouse"


def window_of(partition_key_range: PartitionKeyRange) -> tuple[str, str]:
    """The first and last delivery day of a partition or a backfill's range (inclusive)."""
    return partition_key_range.start, partition_key_range.end
