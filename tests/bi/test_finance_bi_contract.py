"""The finance pages and the dbt project agree: each page has an exposure listing exactly the
marts its queries read, and each of those marts is public with an enforced contract, so a schema
change fails `dbt build` (before publication) instead of a page."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from meterledger.bi import BI_DIR, PAGES

SOURCE_FILE = re.compile(r"\$\{published_dir\}/current/([a-z0-9_]+)\.parquet")
SOURCE_REFERENCE = re.compile(r"\bmarts\.([a-z0-9_]+)")
SQL_FENCE = re.compile(r"```sql [a-z0-9_]+\n(.*?)```", re.DOTALL)


@pytest.fixture(scope="module")
def manifest() -> dict:
    from dagster_defs.project import dbt_project
    from meterledger.pipeline import prepare_dbt

    prepare_dbt()
    return json.loads(Path(dbt_project.manifest_path).read_text())


def _marts_of_sources() -> dict[str, set[str]]:
    """Evidence source query name -> the published marts its SQL reads."""
    sources = {}
    for sql in (BI_DIR / "sources" / "marts").glob("*.sql"):
        sources[sql.stem] = set(SOURCE_FILE.findall(sql.read_text())) - {"_publication"}
    return sources


def _page_file(route: str) -> Path:
    return BI_DIR / "pages" / ("index.md" if route == "/" else f"{route.strip('/')}.md")


def _marts_of_page(route: str, sources: dict[str, set[str]]) -> set[str]:
    queries = SQL_FENCE.findall(_page_file(route).read_text())
    assert queries, f"{route} has no query"
    referenced = set().union(*(SOURCE_REFERENCE.findall(query) for query in queries))
    unknown = referenced - set(sources)
    assert not unknown, f"{route} queries sources that bi/sources/marts does not define: {sorted(unknown)}"
    return set().union(*(sources[name] for name in referenced))


def test_every_page_file_is_a_listed_route():
    pages = sorted(path.relative_to(BI_DIR / "pages").as_posix() for path in (BI_DIR / "pages").rglob("*.md"))
    assert pages == sorted(_page_file(route).relative_to(BI_DIR / "pages").as_posix() for route in PAGES)


def test_each_page_has_an_exposure_listing_the_marts_it_reads(manifest):
    sources = _marts_of_sources()
    exposures = {node["url"].removeprefix("http://127.0.0.1:3001"): node
                 for node in manifest["exposures"].values() if node["type"] == "dashboard"}
    for route in PAGES:
        assert route in exposures, f"no dbt exposure has the url of page {route}"
        listed = {manifest["nodes"][unique_id]["name"] for unique_id in exposures[route]["depends_on"]["nodes"]}
        assert listed == _marts_of_page(route, sources), f"exposure {exposures[route]['name']} ({route})"
    assert set(exposures) == set(PAGES), "an exposure points at a page that does not exist"


def test_the_marts_the_pages_read_are_public_with_enforced_contracts(manifest):
    read = set().union(*_marts_of_sources().values())
    assert {"fct_revenue_schedule", "rpt_billing_reconciliation", "fct_credit_block_balances"} <= read
    models = {node["name"]: node for node in manifest["nodes"].values() if node["resource_type"] == "model"}
    for name in sorted(read):
        assert models[name]["access"] == "public", name
        assert models[name]["config"]["contract"]["enforced"], name
        assert all(column.get("data_type") for column in models[name]["columns"].values()), name
