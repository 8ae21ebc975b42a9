"""SuiteQL inner joins: journal entries read back with their lines in one query, qualified and
ambiguous columns, conditions and ORDER BY on either table, and the indexed path at volume."""
from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

import pytest

from emulators.common.http import dumps
from emulators.netsuite import suiteql

if TYPE_CHECKING:
    from tests.emulators.netsuite_fixtures import NetSuiteClient

pytest_plugins = ["tests.emulators.netsuite_fixtures"]

RECORD = "/services/rest/record/v1"
JOIN = "FROM transaction t INNER JOIN transactionline tl ON tl.transaction = t.id"


def read_back(external_ids: list[str]) -> str:
    """The reverse-ETL read-back of journal entries: each header with its lines."""
    listed = ", ".join(f"'{external_id}'" for external_id in external_ids)
    return ("SELECT t.id AS id, t.externalid AS externalid, t.subsidiary AS subsidiary, t.memo AS memo, "
            "tl.linesequencenumber AS line_number, tl.account AS line_account, "
            "tl.debitforeignamount AS line_debit, tl.memo AS line_memo, "
            "tl.custcol_credit_block_id AS line_custcol_credit_block_id "
            f"{JOIN} WHERE t.type = 'Journal' AND t.externalid IN ({listed}) ORDER BY t.id, tl.linesequencenumber")


def post_journal(netsuite: NetSuiteClient, external_id: str, lines: list[dict], memo: str) -> str:
    body = {"externalId": external_id, "subsidiary": {"id": "1"}, "currency": {"id": "1"},
            "tranDate": "2026-10-31", "memo": memo, "line": {"items": lines}}
    response = netsuite.create("journalentry", body)
    assert response.status_code == 204, response.text
    return response.headers["Location"].rsplit("/", 1)[1]


class Entry(NamedTuple):
    external_id: str
    internal_id: str
    block: str  # the custcol_credit_block_id on one of its lines


@pytest.fixture
def entries(netsuite: NetSuiteClient) -> dict[str, Entry]:
    """Three journal entries of the test's own, posted in the order a, b, c."""
    blocks = {name: netsuite.unique(f"B-{name}") for name in "abc"}
    made = {}
    for name, lines in {
        "a": [{"account": {"id": "11"}, "debit": Decimal("100.10"), "memo": "AR",
               "custcol_credit_block_id": blocks["a"]},
              {"account": {"id": "10"}, "credit": Decimal("100.10"), "memo": "revenue"}],
        "b": [{"account": {"id": "12"}, "debit": Decimal("0.05")},
              {"account": {"id": "10"}, "credit": Decimal("0.05"), "custcol_credit_block_id": blocks["b"]},
              {"account": {"id": "11"}, "debit": Decimal("25.50"), "memo": "revenue"},
              {"account": {"id": "10"}, "credit": Decimal("25.50")}],
        "c": [{"account": {"id": "11"}, "debit": Decimal("7"), "custcol_credit_block_id": blocks["c"]},
              {"account": {"id": "10"}, "credit": Decimal("7")}],
    }.items():
        external_id = netsuite.unique(f"JE-{name}")
        made[name] = Entry(external_id, post_journal(netsuite, external_id, lines, memo=f"entry {name}"),
                           blocks[name])
    return made


def query_error(response) -> str:
    assert response.status_code == 400, response.text
    detail = response.json()["o:errorDetails"][0]
    assert detail["o:errorCode"] == "INVALID_PARAMETER", detail
    return detail["detail"]


def test_journal_entries_come_back_with_their_lines_in_order(netsuite: NetSuiteClient, entries) -> None:
    a, b = entries["a"], entries["b"]
    rows = netsuite.rows(read_back([b.external_id, a.external_id]))

    def head(entry: Entry, name: str) -> dict:
        return {"links": [], "id": entry.internal_id, "externalid": entry.external_id, "subsidiary": "1",
                "memo": f"entry {name}"}

    # NULL columns left out of each row; decimals with their exact digits
    assert rows == [
        {**head(a, "a"), "line_number": "1", "line_account": "11", "line_debit": "100.10", "line_memo": "AR",
         "line_custcol_credit_block_id": a.block},
        {**head(a, "a"), "line_number": "2", "line_account": "10", "line_memo": "revenue"},
        {**head(b, "b"), "line_number": "1", "line_account": "12", "line_debit": "0.05"},
        {**head(b, "b"), "line_number": "2", "line_account": "10", "line_custcol_credit_block_id": b.block},
        {**head(b, "b"), "line_number": "3", "line_account": "11", "line_debit": "25.50", "line_memo": "revenue"},
        {**head(b, "b"), "line_number": "4", "line_account": "10"},
    ]
    assert netsuite.rows(read_back([netsuite.unique("JE-none")])) == []


def test_an_ambiguous_unqualified_column_is_refused(netsuite: NetSuiteClient, entries) -> None:
    a = entries["a"].external_id
    detail = query_error(netsuite.suiteql(f"SELECT memo {JOIN} WHERE t.externalid = '{a}'"))
    assert detail.endswith("Search error occurred: Column 'memo' ambiguously defined.")
    detail = query_error(netsuite.suiteql(f"SELECT tl.memo {JOIN} WHERE id = 1"))
    assert detail.endswith("Column 'id' ambiguously defined.")
    assert query_error(netsuite.suiteql(f"SELECT * {JOIN}")).endswith("ambiguously defined.")
    # A column only one of the tables has needs no qualifier.
    rows = netsuite.rows(f"SELECT externalid, linesequencenumber {JOIN} WHERE externalid = '{a}' "
                         "ORDER BY linesequencenumber")
    assert rows == [{"links": [], "externalid": a, "linesequencenumber": "1"},
                    {"links": [], "externalid": a, "linesequencenumber": "2"}]


def test_a_where_on_the_line_table(netsuite: NetSuiteClient, entries) -> None:
    a, b, c = (entries[name].external_id for name in "abc")
    mine = f"t.externalid IN ('{a}', '{b}', '{c}')"
    rows = netsuite.rows(f"SELECT t.externalid AS entry, tl.linesequencenumber AS line {JOIN} "
                         f"WHERE {mine} AND tl.account = 10 AND tl.creditforeignamount > 5 ORDER BY 1, 2")
    assert [(row["entry"], row["line"]) for row in rows] == [(a, "2"), (b, "4"), (c, "2")]
    # a condition comparing the two tables is applied to the joined rows
    rows = netsuite.rows(f"SELECT t.externalid AS entry, tl.memo AS memo {JOIN} "
                         f"WHERE {mine} AND (tl.memo = 'revenue' OR tl.debitforeignamount < 1) "
                         "AND tl.memo <> t.memo ORDER BY t.id, tl.id")
    assert rows == [{"links": [], "entry": a, "memo": "revenue"}, {"links": [], "entry": b, "memo": "revenue"}]
    # `IN (literals)` on the line table: the lines through its index, then their headers
    [only] = netsuite.rows(f"SELECT t.externalid, tl.debitforeignamount {JOIN} "
                           f"WHERE tl.custcol_credit_block_id IN ('{entries['c'].block}')")
    assert only == {"links": [], "externalid": c, "debitforeignamount": "7.00"}  # kept to the cent


def test_order_by_a_qualified_column(netsuite: NetSuiteClient, entries) -> None:
    a, b = entries["a"].external_id, entries["b"].external_id
    rows = netsuite.rows(f"SELECT t.externalid AS entry, tl.debitforeignamount AS debit {JOIN} "
                         f"WHERE t.externalid IN ('{a}', '{b}') ORDER BY tl.debitforeignamount DESC, t.id DESC")
    # NULLs first descending, as in Oracle; ties on NULL by entry, newest first
    assert [(row["entry"], row.get("debit")) for row in rows] == [
        (b, None), (b, None), (a, None), (a, "100.10"), (b, "25.50"), (b, "0.05")]
    rows = netsuite.rows(f"SELECT tl.account AS account, t.externalid AS entry {JOIN} "
                         f"WHERE t.externalid IN ('{a}', '{b}') ORDER BY account, transactionline.id")
    # ties on the line number (a's and b's line 2) keep the join's order: a's entry first
    assert [(row["account"], row["entry"]) for row in rows] == [
        ("10", a), ("10", b), ("10", b), ("11", a), ("11", b), ("12", b)]


def test_alias_star_of_one_side(netsuite: NetSuiteClient, entries) -> None:
    a, a_id = entries["a"].external_id, entries["a"].internal_id
    rows = netsuite.rows(f"SELECT t.externalid AS h_externalid, tl.* {JOIN} WHERE t.externalid = '{a}' "
                         "ORDER BY tl.linesequencenumber")
    assert [row["h_externalid"] for row in rows] == [a, a]
    first, second = rows
    assert first["transaction"] == a_id and first["linesequencenumber"] == "1" and first["id"] == "1"
    assert first["debitforeignamount"] == "100.10" and first["memo"] == "AR" and first["mainline"] == "F"
    assert first["custcol_credit_block_id"] == entries["a"].block
    assert second["creditforeignamount"] == "100.10" and "debitforeignamount" not in second
    assert not {"type", "externalid", "tranid", "trandate"} & set(first)  # nothing of the header but the alias
    headers = netsuite.rows(f"SELECT t.*, tl.linesequencenumber AS line {JOIN} WHERE t.externalid = '{a}'")
    assert [(row["externalid"], row["type"], row["line"]) for row in headers] == [(a, "Journal", "1"),
                                                                                 (a, "Journal", "2")]


@pytest.mark.parametrize("statement", [
    f"SELECT t.id {JOIN.replace('INNER', 'LEFT')}",
    "SELECT t.id FROM transaction t, transactionline tl WHERE tl.transaction = t.id",
    f"SELECT t.id {JOIN} AND tl.id = 1",
    "SELECT t.id FROM transaction t JOIN transactionline tl ON tl.transaction < t.id",
    "SELECT t.id FROM transaction t JOIN transactionline tl ON t.id = t.subsidiary",
    "SELECT t.id FROM transaction t JOIN transactionline tl ON tl.nosuchcolumn = t.id",
    f"SELECT x.id {JOIN}",
])
def test_unsupported_joins_are_refused(netsuite: NetSuiteClient, statement: str) -> None:
    query_error(netsuite.suiteql(statement))


def test_read_back_of_1000_entries_out_of_20000_uses_the_indexes(netsuite_factory, tmp_path, monkeypatch) -> None:
    seed = {"subsidiary": [{"id": "1", "name": "Parent"}],
            "account": [{"id": "10", "acctNumber": "4000", "acctName": "Revenue", "acctType": "Income"},
                        {"id": "11", "acctNumber": "1200", "acctName": "AR", "acctType": "AcctRec"}],
            "journalentry": [
                {"id": str(1000 + n), "externalId": f"JE-{n}", "subsidiary": {"id": "1"}, "tranDate": "2026-10-31",
                 "memo": f"entry {n}", "line": {"items": [
                     {"account": {"id": "11"}, "debit": Decimal(n) / 100, "custcol_credit_block_id": f"B-{n}"},
                     {"account": {"id": "10"}, "credit": Decimal(n) / 100}]}}
                for n in range(20_000)]}
    (tmp_path / "seed.json").write_bytes(dumps(seed))
    app = netsuite_factory(seed_file=tmp_path / "seed.json").app
    assert len(suiteql.execute(app.store, read_back(["JE-0"]))) == 2  # builds the views once

    evaluated = []
    truth = suiteql.Evaluator.truth

    def counted(self, condition, row):
        evaluated.append(condition)
        return truth(self, condition, row)

    monkeypatch.setattr(suiteql.Evaluator, "truth", counted)
    wanted = [f"JE-{n}" for n in range(5_000, 25_000, 20)]  # 1,000, the last 250 not there
    started = time.monotonic()
    rows = suiteql.execute(app.store, read_back(wanted))
    elapsed = time.monotonic() - started
    assert len(rows) == 2 * 750
    assert rows[0]["externalid"] == "JE-5000" and rows[0]["line_debit"] == "50"
    assert rows[-1] == {"id": "20980", "externalid": "JE-19980", "subsidiary": "1", "memo": "entry 19980",
                        "line_number": "2", "line_account": "10"}
    # Only the 750 entries the index names are tested (two conditions each): not 20,000 or their lines.
    assert len(evaluated) == 2 * 750
    assert elapsed < 1.0, elapsed
