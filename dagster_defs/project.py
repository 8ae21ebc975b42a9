"""The dbt project, built once and shared by the dbt assets and the CLI."""
from __future__ import annotations

from pathlib import Path

from dagster_dbt import DbtProject

REPO_ROOT = Path(__file__).resolve().parent.parent

dbt_project = DbtProject(
    project_dir=REPO_ROOT / "dbt_project",
    profiles_dir=REPO_ROOT,
)
dbt_project.prepare_if_dev()
