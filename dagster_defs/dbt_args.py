"""The dbt command lines the dbt assets run: a pure function, unit-tested on its own."""
from __future__ import annotations

import json

# The unattended run pays for data tests only: unit tests check the SQL's logic on fixed inputs,
# so they run where the logic changes (CI: tests/dbt/test_unit_tests.py), as dbt recommends.
# A test runs with the models it reads: `buildable` leaves out a test that also reads a model
# built later (the partitioned asset selects seeds and staging views that downstream models'
# relationship tests point at; those tests run in the step that builds their own model).
BUILD = ("build", "--exclude-resource-type", "unit_test", "--indirect-selection", "buildable")


def dbt_build_args(window: tuple[str, str] | None = None) -> list[str]:
    """``dbt build`` for the selected models; ``window`` is the first and last delivery day of a
    daily partition or backfill range, passed as the vars the incremental models read."""
    args = list(BUILD)
    if window is not None:
        first, last = window
        if last < first:
            raise ValueError(f"partition window ends before it starts: {first}..{last}")
        args += ["--vars", json.dumps({"usage_delivered_from": first, "usage_delivered_through": last})]
    return args
