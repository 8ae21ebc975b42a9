"""The dlt pipeline of each source system, one place for how raw data reaches the warehouse."""
from __future__ import annotations

import os
from pathlib import Path

import dlt
from dlt.common.schema.utils import get_write_disposition
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials


def duckdb_settings() -> dict[str, str | bool]:
    """DuckDB settings for loading, the same limit as the dbt profile's.

    Insertion order is not preserved: every raw row carries its own order (file and row, or the
    source's IDs), and DuckDB inserts in parallel and spills more freely without it.
    """
    return {"memory_limit": os.environ.get("METERLEDGER_DUCKDB_MEMORY_LIMIT", "4GB"),
            "preserve_insertion_order": False}


def warehouse_destination() -> str:
    """Which warehouse the raw data goes to: ``METERLEDGER_DESTINATION`` (``duckdb`` by default,
    ``postgres``, or any dlt destination whose credentials dlt's own configuration holds). dbt's
    target (``METERLEDGER_DBT_TARGET``) must name the same warehouse."""
    return os.environ.get("METERLEDGER_DESTINATION", "duckdb").strip().lower() or "duckdb"


def postgres_credentials() -> str:
    """A PostgreSQL connection string from the settings the dbt profile's ``postgres`` target reads
    (``METERLEDGER_PG_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD``, ``_DATABASE``), so dlt and dbt
    cannot point at two different servers. The password comes from the environment only."""
    from urllib.parse import quote

    user = quote(os.environ.get("METERLEDGER_PG_USER", "meterledger"), safe="")
    password = os.environ.get("METERLEDGER_PG_PASSWORD", "")
    secret = f":{quote(password, safe='')}" if password else ""
    host = os.environ.get("METERLEDGER_PG_HOST", "127.0.0.1")
    port = os.environ.get("METERLEDGER_PG_PORT", "5432")
    database = quote(os.environ.get("METERLEDGER_PG_DATABASE", "meterledger"), safe="")
    return f"postgresql://{user}{secret}@{host}:{port}/{database}"


def _destination(warehouse: Path):
    name = warehouse_destination()
    if name == "duckdb":
        credentials = DuckDbCredentials(str(warehouse), global_config=duckdb_settings())
        # One job at a time per table: DuckDB inserts each file with all its threads already, and
        # concurrent inserts into one table only contend.
        return dlt.destinations.duckdb(credentials=credentials, loader_parallelism_strategy="table-sequential")
    if name == "postgres":
        return dlt.destinations.postgres(credentials=postgres_credentials())
    # Snowflake, BigQuery, Databricks, ...: credentials from dlt's configuration
    # (DESTINATION__<NAME>__CREDENTIALS__* in the environment or .dlt/secrets.toml).
    return name


def raw_pipeline(system: str, warehouse: str | Path, pipelines_dir: str | Path | None = None) -> dlt.Pipeline:
    """Pipeline ``<system>`` loading dataset ``raw_<system>`` of the warehouse: the DuckDB file
    ``warehouse``, or the destination ``METERLEDGER_DESTINATION`` names. Its working state
    (pending packages, cursors) is kept beside ``warehouse`` unless told otherwise."""
    warehouse = Path(warehouse)
    return dlt.pipeline(
        pipeline_name=system,
        dataset_name=f"raw_{system}",
        destination=_destination(warehouse),
        pipelines_dir=str(pipelines_dir or warehouse.parent / "dlt_pipelines"),
    )


def _finish_interrupted_normalize_commit(pipeline: dlt.Pipeline) -> None:
    """Complete a normalize step killed between its two commit moves.

    dlt commits a normalized package by renaming it into the load storage and then deleting the
    extracted package it came from. A kill between the two leaves both; the next normalize would
    normalize the extracted copy again and fail renaming it onto the committed one ("Directory not
    empty"). The rename is the commit, so the extracted copy of a committed package is only
    deleted, as dlt would have done.
    """
    extracted = pipeline._get_normalize_storage().extracted_packages
    load_storage = pipeline._get_load_storage()
    committed = (load_storage.normalized_packages, load_storage.loaded_packages)
    for load_id in _package_ids(extracted):
        if any(packages.storage.has_folder(packages.get_package_path(load_id)) for packages in committed):
            extracted.delete_package(load_id)


def _package_ids(packages) -> list[str]:
    # A storage folder is only created once a package of its kind has existed.
    return list(packages.list_packages()) if packages.storage.has_folder(".") else []


def finish_interrupted_load(pipeline: dlt.Pipeline) -> None:
    """Complete what a killed run left behind, exactly once, before new data is extracted.

    dlt re-runs a load job that had started but was not marked complete. For a merge table that
    is harmless; for an append table it would insert the job's rows twice when the process died
    after the warehouse committed them but before dlt noted it. So the rows of such a job in an
    append table (they carry its package's load ID) are deleted first, and the job re-inserts them
    once (with the table's other jobs of the package, whose rows carry the same load ID). Then
    the pending packages are normalized and loaded, so the run that follows extracts
    new data (dlt's ``run`` would otherwise only finish the old package).
    """
    _finish_interrupted_normalize_commit(pipeline)
    for load_id in pipeline.list_normalized_load_packages():
        package = pipeline.get_load_package_info(load_id)
        unfinished = {job.job_file_info.table_name for state in ("new_jobs", "started_jobs", "retry_jobs")
                      for job in package.jobs.get(state, [])}
        appended = {table for table in unfinished & set(package.schema.data_table_names())
                    if get_write_disposition(package.schema.tables, table) == "append"}
        storage = pipeline._get_load_storage().normalized_packages
        for table in sorted(appended):
            # The table's rows of this package are told apart by load ID only, so all of its
            # jobs run again, those dlt had noted done included: the delete below removes their
            # rows too (a run may give a table several jobs: SQL models and Parquet files).
            for job in package.jobs.get("completed_jobs", []):
                if job.job_file_info.table_name == table:
                    storage._move_job(load_id, "completed_jobs", "new_jobs", os.path.basename(job.file_path))
            with pipeline.sql_client() as client:
                exists = client.execute_sql(
                    "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
                    pipeline.dataset_name, table)[0][0]
                if exists:
                    client.execute_sql(
                        f"delete from {client.make_qualified_table_name(table)} where _dlt_load_id = %s", load_id)
    if pipeline.has_pending_data:
        pipeline.normalize()
        pipeline.load()
