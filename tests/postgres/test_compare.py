"""The row comparison itself: a cent or a changed column is a difference; a scale is not."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from tests.postgres.compare import Relation, _relation, differences


def test_a_cent_is_a_difference_and_a_scale_is_not():
    duckdb_side = _relation(["line", "amount"], [("K1", Decimal("10.000000000")), ("K2", 3)], set())
    same = _relation(["line", "amount"], [("K2", Decimal("3.0")), ("K1", Decimal("10.00"))], set())
    assert differences(duckdb_side, same) is None
    off_by_a_cent = _relation(["line", "amount"], [("K2", 3), ("K1", Decimal("10.01"))], set())
    found = differences(duckdb_side, off_by_a_cent)
    assert "only in DuckDB:     ('K1', '10')" in found and "only in PostgreSQL: ('K1', '10.01')" in found


def test_duplicates_columns_and_instants_count():
    once = Relation(["a"], [("x",)])
    twice = Relation(["a"], [("x",), ("x",)])
    assert "1 rows in DuckDB, 2 in PostgreSQL" in differences(once, twice)
    assert "columns differ" in differences(Relation(["a", "b"]), Relation(["b", "a"]))
    utc = datetime(2026, 1, 8, 10, tzinfo=timezone.utc)
    paris = utc.astimezone(timezone(timedelta(hours=1)))
    assert differences(_relation(["at"], [(utc,)], set()), _relation(["at"], [(paris,)], set())) is None


def test_load_ids_are_left_out():
    left = _relation(["event", "load_id"], [("e1", "1795491730.01")], {"load_id"})
    right = _relation(["event", "load_id"], [("e1", "1795491731.60")], {"load_id"})
    assert left.columns == ["event"] and differences(left, right) is None
