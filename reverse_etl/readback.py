"""Does a record read back from a destination hold exactly the payload we would send?

Used wherever an outcome is unknown (a timeout after the request left, a run killed between send
and record): the record is read back by external ID and only sent again if it is absent or
different. Values are compared in their meaning, not their spelling: a reference by its ID
(``{"id": "7"}``, ``{"id": "7", "refName": ...}`` and ``"7"`` are the same), numbers as exact
decimals (``12.5`` and ``"12.500"``), everything else as text.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from reverse_etl.protocol import RecordOutcome, RemoteRecord, SendItem


def _same(wanted: Any, held: Any) -> bool:
    """Compare in the type of the value we send, so text that merely looks numeric stays text."""
    if held is None:
        return False
    # Payloads and parsed JSON are plain dicts (and a dict check is cheap: read-backs compare
    # every field of every record).
    if isinstance(wanted, dict) and "id" in wanted:
        held_id = held.get("id") if isinstance(held, dict) else held
        return str(held_id) == str(wanted["id"])
    if isinstance(wanted, bool):
        return str(held).lower() in (("true", "t") if wanted else ("false", "f"))
    if isinstance(wanted, (int, Decimal)):
        try:
            return Decimal(str(held)) == (wanted if isinstance(wanted, Decimal) else Decimal(wanted))
        except InvalidOperation:
            return False
    return str(held) == str(wanted)


def payload_matches(payload: Mapping[str, Any], remote: Mapping[str, Any]) -> bool:
    """True when every field of ``payload`` has the same value in ``remote`` (a sublist: the same
    lines in the same order)."""
    lowered: dict[str, Any] | None = None
    for name, wanted in payload.items():
        # SuiteQL answers in lower-cased column names; REST and SOQL in the field's own spelling.
        if name in remote:
            held = remote[name]
        elif (lower := name.lower()) in remote:
            held = remote[lower]
        else:
            if lowered is None:
                lowered = {key.lower(): value for key, value in remote.items()}
            held = lowered.get(lower)
        if isinstance(wanted, dict) and "items" in wanted:
            held_items = held.get("items") if isinstance(held, dict) else held
            if not isinstance(held_items, list) or len(held_items) != len(wanted["items"]):
                return False
            if not all(payload_matches(line, held_line)
                       for line, held_line in zip(wanted["items"], held_items, strict=True)):
                return False
            continue
        if not _same(wanted, held):
            return False
    return True


def held_as_sent(items: Iterable[SendItem], held: Mapping[str, RemoteRecord]) -> list[RecordOutcome]:
    """``synced`` outcomes for the items the destination holds exactly as they would be sent."""
    return [RecordOutcome(item.external_id, "synced", held[item.external_id].remote_id) for item in items
            if item.external_id in held and payload_matches(item.payload, held[item.external_id].fields)]
