"""Finance's pages built from the session's end-to-end run and opened in headless Chromium: every
page renders without an error, nothing is fetched from beyond the loopback server, a screenshot
of each is saved, and the key figures shown equal the marts in the warehouse, to the cent."""
from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from meterledger.bi import BI_DIR, PAGES, start_server
from meterledger.publish import public_marts, read_manifest
from tests.bi.browser import requested_urls, start_chromium, wait_for_figures

CURRENCY = "USD"  # each page's default currency
# What Evidence shows in place of a component whose query failed.
EVIDENCE_ERRORS = ("Error in Query", "Parser Error", "Binder Error", "Catalog Error", "Conversion Error",
                   "is not a recognized query result", "No Results")


@pytest.fixture(scope="module")
def published(pipeline_run) -> Path:
    """The run's publication, as the site was built from it."""
    return pipeline_run.site_build.published


@pytest.fixture(scope="module")
def warehouse(pipeline_run):
    """The warehouse as the run published it (the tests before these change the live one)."""
    with duckdb.connect(str(pipeline_run.site_build.warehouse), read_only=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def site(pipeline_run) -> Path:
    """Built from the run's publication, in a copy of bi/, in the background (tests/bi/site_build.py)."""
    return pipeline_run.site_build.site()


def declared_figures(route: str) -> list[str]:
    """The data-testid of each key figure in the page's source (bi/pages/<page>.md)."""
    source = BI_DIR / "pages" / ("index.md" if route == "/" else f"{route.strip('/')}.md")
    figures = re.findall(r'data-testid="([^"]+)"', source.read_text())
    assert figures, f"{route} declares no key figure"
    return figures


@pytest.fixture(scope="module")
def pages(site, tmp_path_factory):
    """Every page opened once: its figures, its text, the requests it made, its console errors and
    a screenshot."""
    # Kept where a person (or CI) looks after the run: bi/test-screenshots/<page>.png (git-ignored).
    screenshots = BI_DIR / "test-screenshots"
    shutil.rmtree(screenshots, ignore_errors=True)
    screenshots.mkdir()
    server = start_server(site)
    browser = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    opened = {}
    try:
        for route in PAGES:
            browser.get(server.base_url + route)
            # The figures the page's source declares: read from the rendered page they raced its
            # rendering under load (none found yet, none waited for).
            figures = wait_for_figures(browser, declared_figures(route))
            screenshot = screenshots / f"{route.strip('/') or 'index'}.png"
            browser.save_screenshot(str(screenshot))
            opened[route] = {
                "figures": figures,
                "text": browser.find_element("css selector", "body").text,
                "tables": {element.get_attribute("data-testid"): element.text for element in
                           browser.find_elements("css selector", '[data-testid^="DataTable-"]')},
                "errors": [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"],
                "requests": requested_urls(browser),
                "screenshot": screenshot,
            }
        yield server.base_url, opened
    finally:
        browser.quit()
        server.stop()


def money(value: Decimal, minor_units: int = 2, symbol: str = "$") -> str:
    """As Evidence's usd2 format shows an amount: $1,234.56, -$1.00."""
    text = f"{abs(value):,.{minor_units}f}"
    return f"-{symbol}{text}" if value < 0 else f"{symbol}{text}"


def test_the_run_published_every_public_mart_as_it_is_in_the_warehouse(published, warehouse):
    from dagster_defs.project import dbt_project

    manifest = read_manifest(published)
    marts = public_marts(dbt_project.manifest_path)
    assert set(manifest["tables"]) == {mart.name for mart in marts}
    for mart in marts:
        rows = warehouse.execute(f"select count(*) from {mart.relation}").fetchone()[0]
        assert manifest["tables"][mart.name]["rows"] == rows, mart.name
        copy = published / "current" / f"{mart.name}.parquet"
        assert warehouse.execute(
            f"select count(*) from (select * from {mart.relation} except all select * from read_parquet('{copy}'))"
        ).fetchone()[0] == 0, f"{mart.name}: the published copy differs from the mart"


def test_every_page_renders_from_loopback_only_without_errors(pages):
    base_url, opened = pages
    assert set(opened) == set(PAGES)
    for route, page in opened.items():
        assert page["errors"] == [], f"{route}: console errors {page['errors']}"
        shown = [marker for marker in EVIDENCE_ERRORS if marker in page["text"]]
        assert shown == [], f"{route} shows {shown}"
        # Anything fetched over the network came from the site's own loopback server (the
        # browser's own chrome:// pages are not network requests).
        outside = [url for url in page["requests"]
                   if url.startswith(("http:", "https:", "ws:", "wss:")) and not url.startswith(base_url)]
        assert outside == [], f"{route} requested {outside}"
        assert page["screenshot"].stat().st_size > 20_000, f"{route}: screenshot looks blank"


def test_revenue_page_shows_the_recognized_revenue_of_the_schedule(pages, warehouse):
    _, opened = pages
    recognized, billed = warehouse.execute(
        "select sum(recognized), sum(billed) from marts.fct_revenue_schedule "
        "where currency_code = ? and schedule_status <> 'scheduled'", [CURRENCY]).fetchone()
    assert recognized > 0
    assert opened["/revenue/"]["figures"]["recognized-total"] == money(recognized)
    assert opened["/revenue/"]["figures"]["billed-total"] == money(billed)


def test_deferred_revenue_page_shows_the_last_closing_balance_of_the_rollforward(pages, warehouse):
    _, opened = pages
    closing = warehouse.execute(
        "select sum(closing_balance) from marts.rpt_deferred_revenue_rollforward "
        "where currency_code = ? and period_start = (select max(period_start) "
        "from marts.rpt_deferred_revenue_rollforward where period_status <> 'scheduled')", [CURRENCY]).fetchone()[0]
    assert opened["/deferred-revenue/"]["figures"]["deferred-closing"] == money(closing)


def test_mrr_page_shows_the_latest_months_mrr_and_arr(pages, warehouse):
    _, opened = pages
    mrr, arr = warehouse.execute(
        "select sum(mrr), sum(arr) from marts.fct_mrr where currency_code = ? and period_start = "
        "(select max(period_start) from marts.fct_mrr where currency_code = ?)", [CURRENCY, CURRENCY]).fetchone()
    assert mrr > 0
    assert opened["/mrr/"]["figures"]["mrr-latest"] == money(mrr)
    assert opened["/mrr/"]["figures"]["arr-latest"] == money(arr)


def test_customers_page_shows_billed_and_invoiced(pages, warehouse):
    _, opened = pages
    billed, invoiced = warehouse.execute(
        "select sum(billed), sum(invoiced) from marts.rpt_customer_billing where currency_code = ?",
        [CURRENCY]).fetchone()
    # NetSuite's invoices here are its bill runs of the closed periods, read back by the run.
    assert invoiced > 0
    assert opened["/customers/"]["figures"]["billed-total"] == money(billed)
    assert opened["/customers/"]["figures"]["invoiced-total"] == money(invoiced)


def test_reconciliation_page_counts_the_statuses_and_drills_down_to_the_exceptions(pages, warehouse):
    _, opened = pages
    matched, breaks, exceptions = warehouse.execute(
        "select count(*) filter (where reconciliation_status = 'matched'), count(*) filter (where is_break), "
        "count(*) filter (where reconciliation_status not in ('matched', 'pending')) "
        "from marts.rpt_billing_reconciliation").fetchone()
    figures = opened["/reconciliation/"]["figures"]
    assert figures["matched-count"] == f"{matched:,}"
    assert figures["breaks-count"] == f"{breaks:,}"
    assert figures["exceptions-count"] == f"{exceptions:,}"
    assert exceptions > 0
    # The drill-down opens on the most frequent exception status, its rows by customer and line.
    status, customer, reason = warehouse.execute(
        "with top as (select reconciliation_status from marts.rpt_billing_reconciliation "
        "where reconciliation_status not in ('matched', 'pending') group by 1 order by count(*) desc limit 1) "
        "select reconciliation_status, coalesce(customer_key, '(unknown)'), status_reason "
        "from marts.rpt_billing_reconciliation join top using (reconciliation_status) "
        "order by coalesce(customer_key, '(unknown)'), line_key, period_start limit 1").fetchone()
    lines = opened["/reconciliation/"]["tables"]["DataTable-exceptions"].splitlines()
    first_row = lines[lines.index("Why") + 1]  # the header cells one per line, then a line per row
    assert first_row.startswith(customer) and reason[:60] in first_row, (status, customer, first_row)


def test_credit_page_shows_the_balance_left_and_the_burn(pages, warehouse):
    _, opened = pages
    left, drawn = warehouse.execute(
        "select sum(closing_balance) filter (where period_start = (select max(period_start) "
        "from marts.fct_credit_block_balances where currency_code = ?)), sum(drawn) "
        "from marts.fct_credit_block_balances where currency_code = ?", [CURRENCY, CURRENCY]).fetchone()
    remaining = warehouse.execute(
        "select sum(remaining_amount) from intermediate.int_credit_block_balances where currency_code = ?",
        [CURRENCY]).fetchone()[0]
    assert left == remaining  # the page's balance is the one Salesforce gets
    assert opened["/credits/"]["figures"]["credit-remaining"] == money(left)
    assert opened["/credits/"]["figures"]["credit-drawn"] == money(drawn)


def test_the_overview_names_the_publication(pages, published):
    _, opened = pages
    manifest = read_manifest(published)
    shown = opened["/"]["figures"]["published-at"]
    assert f"{len(manifest['tables'])} marts" in shown
    assert f"{sum(table['rows'] for table in manifest['tables'].values()):,} rows" in shown
