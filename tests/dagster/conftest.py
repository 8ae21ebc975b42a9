"""The Dagster definitions are built from the dbt manifest at import: parse the project first."""
from meterledger.pipeline import prepare_dbt

prepare_dbt()
