"""Salesforce record ids: a 3-character key prefix per object, 15 case-sensitive characters, and the
3-character suffix that makes the 18-character case-insensitive form."""
from __future__ import annotations

import re
import secrets

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")
# Characters 4-6: the "instance" part of a real id; fixed here so emulator ids are recognisable.
_INSTANCE = "Em0"


def checksum(id15: str) -> str:
    """The three suffix characters: for each 5-character chunk, a bit per upper-case letter."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5:chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _SUFFIX[bits]
    return suffix


def to_18(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, None when it is not shaped like an id."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    return value if len(value) == 18 else value + checksum(value)


def make_id(prefix: str, number: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    id15 = prefix + _INSTANCE + digits.rjust(9, "0")
    return id15 + checksum(id15)


def opaque_id(prefix: str) -> str:
    """An id for things that are not records (query locators, bulk jobs)."""
    id15 = prefix + "".join(secrets.choice(_BASE62) for _ in range(12))
    return id15 + checksum(id15)
