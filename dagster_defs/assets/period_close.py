"""The period-close status the period-close sensor watches, as an asset of the daily run.

Which billing periods are closed is decided in SQL (rpt_billing_period_close: usage watermarks,
pending amendments, NetSuite's accounting periods). This asset copies the list into its
materialization metadata, so the sensor reads it from Dagster's instance and never opens the
warehouse, which a running job may be writing (DuckDB allows one writer)."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset
from dagster_dbt import get_asset_key_for_model

from dagster_defs.assets.transformation import meterledger_dbt_models
from dagster_defs.partitions import WAREHOUSE_POOL
from dagster_defs.resources import WarehouseResource

PERIOD_CLOSE_MODEL = get_asset_key_for_model([meterledger_dbt_models], "rpt_billing_period_close")
CLOSED_PERIODS = "closed_periods"


@asset(name="billing_period_close", group_name="orchestration", deps=[PERIOD_CLOSE_MODEL], pool=WAREHOUSE_POOL,
       description="The billing periods closed at this run (metadata `closed_periods`), for the period-close sensor.")
def billing_period_close(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    with warehouse.connect() as connection:
        closed = [period for (period,) in connection.execute(
            "select billing_period from marts.rpt_billing_period_close where is_closed order by period_end, period_start"
        ).fetchall()]
        waiting = connection.execute(
            "select not_closed_reason, count(*) from marts.rpt_billing_period_close "
            "where not is_closed and period_end < current_date group by 1 order by 2 desc").fetchall()
    context.log.info("%d billing periods closed; ended but not closed: %s", len(closed),
                     ", ".join(f"{count} ({reason})" for reason, count in waiting) or "none")
    return MaterializeResult(metadata={
        CLOSED_PERIODS: MetadataValue.json(closed),
        "closed_count": MetadataValue.int(len(closed)),
        "latest_closed": MetadataValue.text(closed[-1] if closed else ""),
        "ended_not_closed": MetadataValue.md("\n".join(f"- {count}: {reason}" for reason, count in waiting) or "none"),
    })
