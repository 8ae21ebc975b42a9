"""Small deterministic helpers shared by the demo-data modules.

Everything here is pure: no clock, no global random state, so the same inputs always give the
same bytes.
"""

from __future__ import annotations

import calendar
import json
import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal(0)


def stream(seed: int, name: str) -> random.Random:
    """An independent random stream per concern, so that e.g. changing the event count does not
    reshuffle the contracts. String seeds are hashed with SHA-512 by `random`, which is stable
    across runs and platforms (unlike hash())."""
    return random.Random(f"meterledger-demo:{seed}:{name}")


# --- dates -----------------------------------------------------------------------------------

def add_months(d: date, months: int) -> date:
    """Same day n months later, clamped to the month's last day (Jan 31 + 1 month = Feb 28)."""
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def days_between(lo: date, hi: date) -> list[date]:
    """All dates lo..hi inclusive (empty when hi < lo)."""
    return [lo + timedelta(n) for n in range((hi - lo).days + 1)]


def random_date(rng: random.Random, lo: date, hi: date) -> date:
    return lo + timedelta(rng.randint(0, max(0, (hi - lo).days)))


def date_with_day(rng: random.Random, lo: date, hi: date, day: int) -> date:
    """A date in [lo, hi] whose day-of-month is `day` (to exercise month-end clamping);
    any date in the window when no month in it has that day."""
    options = [d for d in days_between(lo, hi) if d.day == day]
    return rng.choice(options) if options else random_date(rng, lo, hi)


def sf_timestamp(d: date, seconds: int) -> str:
    """Salesforce datetime format: 2026-10-01T12:00:00.000+0000."""
    h, rest = divmod(seconds % 86400, 3600)
    return f"{d.isoformat()}T{h:02d}:{rest // 60:02d}:{rest % 60:02d}.000+0000"


# --- decimals --------------------------------------------------------------------------------

def q(value: Decimal | int | str, places: int) -> Decimal:
    """Round half up to `places` decimals; money keeps its minor units (12.50)."""
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def trim(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (1E+3 -> 1000)."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def fmt(value: Decimal) -> str:
    """Plain positional notation, never '1E+3' or a binary-float artefact."""
    return format(value, "f")


# --- Salesforce ids --------------------------------------------------------------------------

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def sf_id(prefix: str, n: int) -> str:
    """A real-shaped 18-character Salesforce Id: key prefix, instance '8d', reserved '0',
    a 9-character base-62 counter, then the case-checksum suffix Salesforce appends."""
    body = ""
    n += 1_000_000  # avoid ids of all zeros; purely cosmetic
    for _ in range(9):
        n, r = divmod(n, 62)
        body = _B62[r] + body
    id15 = f"{prefix}8d0{body}"
    suffix = ""
    for chunk in range(3):
        part = id15[chunk * 5:chunk * 5 + 5]
        suffix += _SUFFIX[sum(1 << i for i, c in enumerate(part) if c.isupper())]
    return id15 + suffix


# --- JSON ------------------------------------------------------------------------------------

def _value(v) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, Decimal):
        return fmt(v)  # a JSON number with exactly the decimals we chose
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_value(v[k])}" for k in sorted(v)) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_value(x) for x in v) + "]"
    # floats are refused on purpose: they are how 0.30000000000000004 sneaks in
    raise TypeError(f"not serialisable in seeds: {type(v).__name__}")


def dumps_seed(obj: dict) -> str:
    """Seed file layout: sorted top-level keys, one record per line (diff-friendly, stable)."""
    out = ["{"]
    keys = sorted(obj)
    for i, key in enumerate(keys):
        records = obj[key]
        if isinstance(records, list) and records:
            out.append(f"{json.dumps(key)}: [")
            out.extend(_value(r) + ("," if j < len(records) - 1 else "") for j, r in enumerate(records))
            out.append("]" + ("," if i < len(keys) - 1 else ""))
        else:
            out.append(f"{json.dumps(key)}: {_value(records)}" + ("," if i < len(keys) - 1 else ""))
    out.append("}")
    return "\n".join(out) + "\n"


def dumps_small(obj: dict) -> str:
    """Manifest and watermark files: plain sorted, indented JSON (no Decimals in them)."""
    return json.dumps(obj, sort_keys=True, indent=2) + "\n"
