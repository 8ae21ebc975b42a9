"""The usage files source: every row kept as delivered, each file version loaded once, a rewrite
loaded as the file's next version, broken rows and files kept with their error."""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import dlt
import duckdb
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.pipelines import raw_pipeline
from ingestion.usage import usage_source

JSONL = "product_api/2026-08-02/events-1.jsonl"
PARQUET = "batch_metering/2026-08-03/events-1.parquet"
FIRST_LINE = ('{"event_id": "e1", "customer_id": "C0001", "meter": "api_calls", "quantity": "2.5", '
              '"timestamp": "2026-08-01T10:00:00Z", "properties": {"region": "eu"}, "source": "product_api"}')


@pytest.fixture
def usage_root(tmp_path):
    root = tmp_path / "usage"
    (root / "product_api" / "2026-08-02").mkdir(parents=True)
    (root / JSONL).write_text("\n".join([
        FIRST_LINE,
        json.dumps({"customer_id": "C0001", "meter": "api_calls", "quantity": 7, "timestamp": "yesterday"}),
        "",  # a blank line is not an event, and keeps the line numbers of the ones after it
        json.dumps({"event_id": "e3", "customer_id": "C0001", "meter": "api_calls", "quantity": "twelve",
                    "timestamp": "2026-08-01T11:00:00+02:00", "properties": '{"tier": "gold"}'}),
    ]) + "\n")
    (root / "batch_metering" / "2026-08-03").mkdir(parents=True)
    # Typed columns, as a producer other than our generator may write them, and one extra column.
    pq.write_table(pa.table({
        "event_id": ["b1"], "customer_id": ["C0002"], "meter": ["seats"],
        "quantity": pa.array([-4.5], pa.float64()),
        "timestamp": pa.array([datetime(2026, 8, 2, tzinfo=timezone.utc)], pa.timestamp("us", tz="UTC")),
        "properties": pa.array([{"seat": 1}], pa.struct([("seat", pa.int64())])),
        "source": ["batch_metering"], "region": ["eu-west-1"],
    }), root / PARQUET)
    (root / "product_api" / "_watermark.json").write_text(
        json.dumps({"source": "product_api", "complete_through": "2026-08-02T00:00:00Z"}))
    return root


def _pipeline(tmp_path):
    return dlt.pipeline(pipeline_name="usage_test", dataset_name="raw_usage",
                        destination=dlt.destinations.duckdb(credentials=str(tmp_path / "w.duckdb")),
                        pipelines_dir=str(tmp_path / "pipelines"))


def _rows(tmp_path, sql):
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def _events(tmp_path):
    return _rows(tmp_path, "select file_name, file_version, file_row, event_id, quantity, timestamp, properties, "
                           "parse_error from raw_usage.usage_events order by file_name, file_version, file_row")


def _touch(path, seconds):
    os.utime(path, (seconds, seconds))


def test_every_row_arrives_as_delivered_with_its_file_version_and_row(tmp_path, usage_root):
    _pipeline(tmp_path).run(usage_source(root=str(usage_root)))
    assert _events(tmp_path) == [
        (PARQUET, 1, 1, "b1", "-4.5", "2026-08-02 00:00:00+00", '{"seat":1}', None),
        (JSONL, 1, 1, "e1", "2.5", "2026-08-01T10:00:00Z", '{"region":"eu"}', None),
        (JSONL, 1, 2, None, "7", "yesterday", None, None),
        (JSONL, 1, 4, "e3", "twelve", "2026-08-01T11:00:00+02:00", '{"tier": "gold"}', None),
    ]
    # The JSON line is kept verbatim; a Parquet row's own columns are its payload, extras included.
    assert _rows(tmp_path, "select raw_payload from raw_usage.usage_events where file_name = ? and file_row = 1"
                 .replace("?", f"'{JSONL}'")) == [(FIRST_LINE,)]
    assert _rows(tmp_path, "select region, raw_payload from raw_usage.usage_events "
                           f"where file_name = '{PARQUET}'") == [("eu-west-1", None)]
    assert _rows(tmp_path, "select file_name, file_version, file_format, delivered_on from raw_usage.usage_files "
                           "order by 1") == [(PARQUET, 1, "parquet", "2026-08-03"), (JSONL, 1, "jsonl", "2026-08-02")]
    assert _rows(tmp_path, "select source, complete_through, file_name from raw_usage.usage_watermarks") == [
        ("product_api", datetime(2026, 8, 2, tzinfo=timezone.utc), "product_api/_watermark.json")]
    [(load_ids,)] = _rows(tmp_path, "select count(distinct _dlt_load_id) from raw_usage.usage_events")
    [(load_id,)] = _rows(tmp_path, "select load_id from raw_usage._dlt_loads")
    assert load_ids == 1
    assert _rows(tmp_path, "select distinct _dlt_load_id from raw_usage.usage_events") == [(load_id,)]


def test_loading_twice_changes_nothing(tmp_path, usage_root):
    pipeline = _pipeline(tmp_path)
    pipeline.run(usage_source(root=str(usage_root)))
    before = (_events(tmp_path), _rows(tmp_path, "select * from raw_usage.usage_files order by file_name"))
    info = pipeline.run(usage_source(root=str(usage_root)))
    assert (_events(tmp_path), _rows(tmp_path, "select * from raw_usage.usage_files order by file_name")) == before
    assert pipeline.last_trace.last_normalize_info.row_counts.get("usage_events", 0) == 0
    assert not info.has_failed_jobs


def test_a_loaded_run_leaves_no_copy_of_its_events_in_the_pipeline_folder(tmp_path, usage_root):
    # dlt keeps a loaded package's files unless told otherwise: a copy of every event, every day.
    pipeline = raw_pipeline("usage", tmp_path / "w.duckdb", pipelines_dir=tmp_path / "pipelines")
    pipeline.run(usage_source(root=str(usage_root)))
    assert _rows(tmp_path, "select count(*) from raw_usage.usage_events") == [(4,)]
    assert sorted(path.name for path in (tmp_path / "pipelines").rglob("*.parquet")) == []
    assert pipeline.list_completed_load_packages()  # the package's record stays, its data does not


def test_a_touched_file_with_the_same_content_is_not_loaded_again(tmp_path, usage_root):
    pipeline = _pipeline(tmp_path)
    pipeline.run(usage_source(root=str(usage_root)))
    _touch(usage_root / JSONL, 1_900_000_000)
    pipeline.run(usage_source(root=str(usage_root)))
    assert _rows(tmp_path, "select count(*), max(file_version) from raw_usage.usage_events") == [(4, 1)]
    # The new time is remembered: the next run does not even hash the file again.
    state = pipeline.state["sources"]["usage"]["resources"]["usage_files"]["files"][JSONL]
    assert state["fingerprint"].endswith(":1900000000.0")


def test_a_rewritten_file_loads_as_its_next_version_and_the_old_rows_stay(tmp_path, usage_root):
    pipeline = _pipeline(tmp_path)
    pipeline.run(usage_source(root=str(usage_root)))
    pq.write_table(pa.table({"event_id": ["b1", "b2"], "quantity": ["4", "5"]}), usage_root / PARQUET)
    _touch(usage_root / PARQUET, 1_900_000_000)
    pipeline.run(usage_source(root=str(usage_root)))
    assert _rows(tmp_path, f"select file_version, file_row, event_id, quantity from raw_usage.usage_events "
                           f"where file_name = '{PARQUET}' order by 1, 2") == [
        (1, 1, "b1", "-4.5"), (2, 1, "b1", "4"), (2, 2, "b2", "5")]
    assert _rows(tmp_path, f"select file_version from raw_usage.usage_files where file_name = '{PARQUET}'") == [(2,)]


def test_a_broken_line_is_kept_with_its_error_and_the_rest_of_the_file_loads(tmp_path, usage_root):
    (usage_root / "product_api" / "2026-08-02" / "events-2.jsonl").write_text(
        '{"event_id": "ok-1", "quantity": "1"}\n{not json\n[1, 2]\n{"event_id": "ok-2", "quantity": "2"}\n')
    _pipeline(tmp_path).run(usage_source(root=str(usage_root)))
    assert _rows(tmp_path, "select file_row, event_id, raw_payload, parse_error from raw_usage.usage_events "
                           "where file_name like '%events-2.jsonl' order by file_row") == [
        (1, "ok-1", '{"event_id": "ok-1", "quantity": "1"}', None),
        (2, None, "{not json", "not valid JSON"),
        (3, None, "[1, 2]", "not a JSON object"),
        (4, "ok-2", '{"event_id": "ok-2", "quantity": "2"}', None),
    ]


def test_an_unreadable_parquet_file_leaves_one_error_row_and_the_others_load(tmp_path, usage_root):
    broken = "batch_metering/2026-08-03/events-2.parquet"
    (usage_root / broken).write_bytes(b"PAR1 this is not parquet")
    _pipeline(tmp_path).run(usage_source(root=str(usage_root)))
    [(row, error)] = _rows(tmp_path, "select file_row, parse_error from raw_usage.usage_events "
                                     f"where file_name = '{broken}'")
    assert row == 0 and error.startswith("file cannot be read:")
    assert _rows(tmp_path, "select count(*) from raw_usage.usage_events where parse_error is null") == [(4,)]


def test_any_fsspec_filesystem_serves_as_the_usage_root(tmp_path):
    memory = fsspec.filesystem("memory")
    memory.pipe("/bucket/usage/product_api/2026-08-02/events-1.jsonl", (FIRST_LINE + "\n").encode())
    table = pa.table({"event_id": ["b1"], "quantity": ["3"]})
    with memory.open("/bucket/usage/batch_metering/2026-08-03/events-1.parquet", "wb") as handle:
        pq.write_table(table, handle)
    try:
        _pipeline(tmp_path).run(usage_source(root="memory://bucket/usage"))
        assert _rows(tmp_path, "select file_name, event_id, quantity from raw_usage.usage_events order by 1") == [
            (PARQUET, "b1", "3"), (JSONL, "e1", "2.5")]
    finally:
        memory.rm("/bucket", recursive=True)


def test_a_file_rewritten_while_it_is_read_fails_the_load_by_name_and_loads_next_run(tmp_path, usage_root,
                                                                                    monkeypatch):
    from dlt.pipeline.exceptions import PipelineStepFailed

    from ingestion.usage import source as usage_module

    read = usage_module._read_tagged_batch

    def read_then_rewrite(*args, **kwargs):
        table = read(*args, **kwargs)
        (usage_root / JSONL).write_text(FIRST_LINE + "\n")
        _touch(usage_root / JSONL, 1_900_000_000)
        return table

    monkeypatch.setattr(usage_module, "_read_tagged_batch", read_then_rewrite)
    pipeline = _pipeline(tmp_path)
    with pytest.raises(PipelineStepFailed, match=f"usage file {JSONL} changed while it was being loaded"):
        pipeline.run(usage_source(root=str(usage_root)))
    monkeypatch.undo()
    pipeline.run(usage_source(root=str(usage_root)))
    assert _rows(tmp_path, f"select file_version, count(*) from raw_usage.usage_events where file_name = '{JSONL}' "
                           "group by 1") == [(1, 1)]


def test_a_partition_loads_the_deliveries_through_its_day_and_caps_the_watermark(tmp_path, usage_root):
    """A daily partition (or a backfill's range) ending on 2026-08-02 takes that day's folder and
    not the next; the watermark, which says 2026-08-02 00:00, is capped at the day's start, and
    an older delivery rewritten later is still taken by the next partition."""
    from datetime import date

    (usage_root / "product_api" / "_watermark.json").write_text(
        json.dumps({"source": "product_api", "complete_through": "2026-08-05T00:00:00Z"}))
    pipeline = _pipeline(tmp_path)
    pipeline.run(usage_source(root=str(usage_root), delivered_through=date(2026, 8, 2)))
    assert _rows(tmp_path, "select file_name from raw_usage.usage_files") == [(JSONL,)]
    assert _rows(tmp_path, "select cast(complete_through as varchar) from raw_usage.usage_watermarks") == [
        ("2026-08-02 00:00:00+00",)]

    pipeline.run(usage_source(root=str(usage_root), delivered_through=date(2026, 8, 3)))
    assert sorted(_rows(tmp_path, "select file_name from raw_usage.usage_files")) == sorted([(JSONL,), (PARQUET,)])
    assert _rows(tmp_path, "select cast(complete_through as varchar) from raw_usage.usage_watermarks") == [
        ("2026-08-03 00:00:00+00",)]
    [(rows,)] = _rows(tmp_path, "select count(*) from raw_usage.usage_events")

    # The same partition again loads nothing; without a bound the watermark says what the file says.
    pipeline.run(usage_source(root=str(usage_root), delivered_through=date(2026, 8, 3)))
    assert _rows(tmp_path, "select count(*) from raw_usage.usage_events") == [(rows,)]
    pipeline.run(usage_source(root=str(usage_root)))
    assert _rows(tmp_path, "select cast(complete_through as varchar) from raw_usage.usage_watermarks") == [
        ("2026-08-05 00:00:00+00",)]
