"""Usage event files with injected defects, and the per-source completeness watermarks.

Plan first, then stream day by day so memory stays flat at 1M events:
1. cells: one (event day, source, usage line) with an exact event count; counts come from
   customer skew x meter volume x weekday x jitter, rounded cumulatively to hit the total.
2. victims: the defects are drawn up front as (cell, offset) positions, so their number is
   exact: late arrivals move to a later folder, duplicates are re-delivered copies, malformed
   events are mutated copies (with a fresh id) of a good one, one defect each.
3. per event day: generate, sort by time, assign ids, split into files, write.

A folder holds `files_per_day` files of that day's deliveries, plus one last file with
re-deliveries and late arrivals, so a copy always loads after its original (folder, file, row).
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections import Counter
from datetime import date, timedelta
from itertools import accumulate
from operator import itemgetter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import catalog
from .contracts import Contract, Customer, active_window
from .util import month_end, stream

BAD_KINDS = ("exact_duplicate", "conflicting_duplicate", "late_arrival", "missing_event_id",
             "unknown_customer", "unknown_meter", "negative_quantity", "non_numeric_quantity",
             "unparseable_timestamp")
MALFORMED = BAD_KINDS[3:]
UNKNOWN_METERS = ("bandwidth_gb", "gpu_hours", "api_call")
NON_NUMERIC = ("twelve", "12x", "n/a", "1.2.3")
BAD_TIMESTAMPS = ("2026-13-45T99:00:00Z", "yesterday", "2026-08-32T10:00:00Z", "not a timestamp")
COLUMNS = ("event_id", "customer_id", "meter", "quantity", "amount", "timestamp", "properties", "source")
PARQUET_SCHEMA = pa.schema([(c, pa.string()) for c in COLUMNS])

# row layout (lists, mutated in place while planning a day)
MS, DAY, CUST, METER, QTY, AMT, PROPS, EID, TS, ROLE = range(10)
_HMS = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


def _props(**kv) -> str:
    return json.dumps(kv, sort_keys=True, separators=(",", ":"))


def _generator(rng, cust: Customer, meter: str):
    """Returns f() -> (quantity, amount, properties JSON). Strings are pre-built per line so the
    per-event work is a couple of random draws and one format."""
    rand, region = rng.random, cust.region
    if meter == "api_calls":
        endpoints = ("/v1/charges", "/v1/customers", "/v1/search", "/v1/reports")
        props = [_props(endpoint=e, region=region) for e in endpoints]
        mean = rng.choice((15.0, 40.0, 120.0))
        return lambda: (str(int(-mean * math.log(1.0 - rand())) + 1), None, props[int(rand() * 4)])
    if meter == "messages":
        props = [_props(channel=ch, region=region) for ch in ("email", "sms", "push")]
        return lambda: ("1", None, props[int(rand() * 3)])
    if meter == "active_users":
        pool = 5 + min(2000, int(cust.weight * 30))
        props = [_props(region=region, user_id=f"u{cust.key[1:]}-{n:04d}") for n in range(pool)]
        return lambda: ("1", None, props[int(rand() * pool)])
    if meter == "payments_volume":
        methods = ("card", "sepa_debit", "bank_transfer") if cust.currency != "JPY" else ("card", "konbini")
        props = [_props(payment_method=pm, region=region) for pm in methods]
        n = len(methods)
        if cust.currency == "JPY":  # no minor unit: whole yen
            return lambda: ("1", str(int(rng.lognormvariate(8.7, 1.0)) + 100), props[int(rand() * n)])

        def pay():
            cents = int(rng.lognormvariate(8.3, 1.0)) + 100
            return "1", f"{cents // 100}.{cents % 100:02d}", props[int(rand() * n)]
        return pay
    if meter == "compute_hours":
        props = [_props(instance_type=t, region=region) for t in ("standard-2", "standard-8", "gpu-1")]

        def hours():
            n = 25 + int(rand() * 776)  # 0.25 .. 8.00 hours, hundredths
            return f"{n // 100}.{n % 100:02d}", None, props[int(rand() * 3)]
        return hours
    if meter == "storage_gb":
        base, props = rng.uniform(50, 5000), _props(region=region)

        def gb():
            n = int(base * (0.9 + 0.2 * rand()) * 100)
            return f"{n // 100}.{n % 100:02d}", None, props
        return gb
    if meter == "seats":
        base, props = rng.randint(5, 300), _props(region=region)
        return lambda: (str(max(1, base + int(rand() * 7) - 3)), None, props)
    raise ValueError(meter)


def _defect_counts(rng, events: int) -> dict[str, int]:
    """Hundreds at the default million; a handful (>= 3 when possible) for test sizes."""
    base = events // 3000
    if base < 3:
        base = min(3, events // 200)
    return {k: base + rng.randint(0, base // 4) for k in BAD_KINDS}


def _write_jsonl(path: Path, rows: list, source: str, fmt_ts) -> None:
    out = []
    for r in rows:
        ts = r[TS] if r[TS] is not None else fmt_ts(r[DAY], r[MS])
        amount = "null" if r[AMT] is None else f'"{r[AMT]}"'
        eid = "" if r[EID] is None else f',"event_id":"{r[EID]}"'  # None = key absent
        out.append(f'{{"amount":{amount},"customer_id":"{r[CUST]}"{eid},"meter":"{r[METER]}",'
                   f'"properties":{r[PROPS]},"quantity":"{r[QTY]}","source":"{source}",'
                   f'"timestamp":"{ts}"}}\n')
    path.write_text("".join(out), encoding="utf-8")


def _write_parquet(path: Path, rows: list, source: str, fmt_ts) -> None:
    cols = {
        "event_id": [r[EID] for r in rows],
        "customer_id": [r[CUST] for r in rows],
        "meter": [r[METER] for r in rows],
        "quantity": [r[QTY] for r in rows],
        "amount": [r[AMT] for r in rows],
        "timestamp": [r[TS] if r[TS] is not None else fmt_ts(r[DAY], r[MS]) for r in rows],
        "properties": [r[PROPS] for r in rows],
        "source": [source] * len(rows),
    }
    table = pa.table(cols, schema=PARQUET_SCHEMA)
    # fixed writer options: same input -> same bytes
    pq.write_table(table, path, compression="zstd", compression_level=3, use_dictionary=True,
                   write_statistics=True, version="2.6", data_page_version="1.0",
                   row_group_size=1_000_000)


def _ts_formatter(source: str, daystr: list[str]):
    # product_api: milliseconds and Z; batch_metering: whole seconds and +00:00 (both ISO 8601)
    if source == "product_api":
        return lambda d, ms: f"{daystr[d]}T{_HMS[ms // 1000]}.{ms % 1000:03d}Z"
    return lambda d, ms: f"{daystr[d]}T{_HMS[ms // 1000]}+00:00"


def _usage_lines(contracts, range_start: date, ndays: int, gen_rng) -> list[tuple]:
    """(source, customer, meter, first day idx, last day idx, generator) for each usage line
    that can meter inside the range (a batch source's last day is not delivered yet)."""
    lines = []
    for c in contracts:
        for ln in c.lines:
            win = active_window(c, ln) if ln.kind == "usage" else None
            if not win:
                continue
            src = catalog.SOURCE_OF_METER[ln.meter]
            lo = max((win[0] - range_start).days, 0)
            hi = min((win[1] - range_start).days, ndays - 1 - catalog.SOURCES[src]["delivery_lag_days"])
            if lo <= hi:
                lines.append((src, c.customer, ln.meter, lo, hi, _generator(gen_rng, c.customer, ln.meter)))
    return lines


def _plan_cells(lines, range_start: date, ndays: int, total: int, vol) -> tuple[list, list]:
    """Cells (day, source, line index) in streaming order and their exact event counts."""
    cells, weights = [], []
    for d in range(ndays):
        weekend = (range_start + timedelta(d)).weekday() >= 5
        for src in catalog.SOURCES:
            for i, (s, cust, meter, lo, hi, _) in enumerate(lines):
                if s == src and lo <= d <= hi:
                    w = cust.weight * catalog.METER_VOLUME[meter] * vol.uniform(0.7, 1.3)
                    cells.append((d, src, i))
                    weights.append(w * (0.55 if weekend and src == "product_api" else 1.0))
    total_w = sum(weights) or 1.0
    counts, prev = [], 0
    for acc in accumulate(weights):  # cumulative rounding: the counts sum to `total` exactly
        cur = round(acc * total / total_w)
        counts.append(cur - prev)
        prev = cur
    return cells, counts


def _pick_victims(cells, counts, defects, range_start: date, ndays: int, bad) -> dict:
    """{cell index: {offset in cell: role}}. Late arrivals only from months that end early
    enough for a later delivery inside the range; other roles anywhere, never the same event."""
    cum = list(accumulate(counts))
    total = cum[-1] if cum else 0

    def late_ok(cell) -> bool:
        d, src, _ = cell
        me = (month_end(range_start + timedelta(d)) - range_start).days
        return me + catalog.SOURCES[src]["delivery_lag_days"] + 2 <= ndays - 1

    elig = [j for j, cell in enumerate(cells) if counts[j] and late_ok(cell)]
    elig_cum = list(accumulate(counts[j] for j in elig))
    n_late = min(defects["late_arrival"], elig_cum[-1] if elig_cum else 0)
    victims: dict[int, dict[int, str]] = {}
    taken = set()
    for x in (bad.sample(range(elig_cum[-1]), n_late) if n_late else ()):
        k = bisect_right(elig_cum, x)
        j, off = elig[k], x - (elig_cum[k - 1] if k else 0)
        victims.setdefault(j, {})[off] = "late_arrival"
        taken.add((cum[j - 1] if j else 0) + off)
    roles = [k for k in BAD_KINDS if k != "late_arrival" for _ in range(defects[k])]
    roles = roles[:max(0, total - n_late)]
    picks = [x for x in bad.sample(range(total), len(roles) + len(taken)) if x not in taken]
    for x, role in zip(picks, roles):
        j = bisect_right(cum, x)
        victims.setdefault(j, {})[x - (cum[j - 1] if j else 0)] = role
    return victims


class _Day:
    """Turns one source's generated rows of one event day into deliveries: ids in delivery
    order, malformed copies beside their template, re-deliveries and late arrivals deferred."""

    def __init__(self, bad, gen_rng, range_start: date, daystr: list[str], last_folder: int):
        self.bad, self.gen_rng, self.r0 = bad, gen_rng, range_start
        self.daystr, self.last_folder = daystr, last_folder
        self.deferred: dict[tuple[str, int], list] = {}
        self.seq: dict[int, int] = {}

    def _new_id(self, src: str, d: int) -> str:
        if src == "product_api":
            return f"evt_{self.gen_rng.getrandbits(96):024x}"
        n = self.seq[d] = self.seq.get(d, 0) + 1
        return f"bm-{self.daystr[d].replace('-', '')}-{n:06d}"

    def deliver(self, src: str, d: int, folder: int, rows: list) -> tuple[list, list]:
        bad = self.bad
        final, late_rows, copies = [], [], []
        rows.sort(key=itemgetter(MS))
        for r in rows:
            role = r[ROLE]
            if role == "late_arrival":
                late_rows.append(r)
                continue
            final.append(r)
            if role in MALFORMED:
                m = r.copy()
                r[ROLE] = None
                _malform(bad, m)
                final.append(m)
            elif role:
                copies.append(r)
        for r in final + late_rows:
            if r[ROLE] == "missing_event_id":  # None = key absent (JSONL) / null (Parquet)
                r[EID] = None if bad.random() < 0.5 else ""
            else:
                r[EID] = self._new_id(src, d)
        for r in copies:
            c = r.copy()
            r[ROLE] = None
            if c[ROLE] == "conflicting_duplicate":
                _conflict(bad, c)
            self._defer(src, min(self.last_folder, folder + bad.randint(0, 3)), c)
        lag = catalog.SOURCES[src]["delivery_lag_days"]
        for r in late_rows:
            me = (month_end(self.r0 + timedelta(d)) - self.r0).days + lag
            self._defer(src, min(self.last_folder, me + bad.randint(2, 20)), r)
        return final, self.deferred.pop((src, folder), [])

    def _defer(self, src: str, folder: int, row: list) -> None:
        self.deferred.setdefault((src, folder), []).append(row)


def write_usage(root: Path, seed: int, customers: list[Customer], contracts: list[Contract],
                range_start: date, days: int, events: int) -> dict:
    """Write usage/<source>/<day>/events-<n>.* and the watermarks; return the manifest part."""
    ndays, last_folder = days, days - 1
    daystr = [(range_start + timedelta(d)).isoformat() for d in range(ndays)]
    vol, gen_rng, bad = stream(seed, "volume"), stream(seed, "events"), stream(seed, "defects")

    lines = _usage_lines(contracts, range_start, ndays, gen_rng)
    defects = _defect_counts(bad, events)
    base_total = max(0, events - sum(v for k, v in defects.items() if k != "late_arrival"))
    cells, counts = _plan_cells(lines, range_start, ndays, base_total, vol)
    if not cells:
        defects = dict.fromkeys(BAD_KINDS, 0)
    victims = _pick_victims(cells, counts, defects, range_start, ndays, bad)

    stats = Counter()
    per_source = {s: {"files": 0, "rows": 0, "folders": 0} for s in catalog.SOURCES}
    day = _Day(bad, gen_rng, range_start, daystr, last_folder)
    rand = gen_rng.random
    j = 0
    for d in range(ndays):
        for src, cfg in catalog.SOURCES.items():
            whole_seconds = src != "product_api"
            rows = []
            while j < len(cells) and cells[j][0] == d and cells[j][1] == src:
                _, cust, meter, _, _, gen = lines[cells[j][2]]
                marks = victims.get(j, {})
                for off in range(counts[j]):
                    ms = int(rand() * 86_400_000)
                    if whole_seconds:
                        ms -= ms % 1000
                    qty, amt, props = gen()
                    rows.append([ms, d, cust.key, meter, qty, amt, props, None, None, marks.get(off)])
                j += 1
            folder = d + cfg["delivery_lag_days"]
            if folder > last_folder:
                continue
            final, extra = day.deliver(src, d, folder, rows)
            _write_folder(root / src / daystr[folder], src, cfg, _ts_formatter(src, daystr), final,
                          extra, stats, per_source[src])
    if any(day.deferred.values()):
        raise RuntimeError("deferred events were never delivered")

    watermarks = {}
    for src, cfg in catalog.SOURCES.items():
        through = range_start + timedelta(ndays - cfg["delivery_lag_days"])
        watermarks[src] = f"{through.isoformat()}T00:00:00Z"
        (root / src).mkdir(parents=True, exist_ok=True)
        (root / src / "_watermark.json").write_text(
            json.dumps({"complete_through": watermarks[src], "source": src}, sort_keys=True, indent=2) + "\n")

    rows_written = sum(p["rows"] for p in per_source.values())
    bad_counts = {k: stats[k] for k in BAD_KINDS}
    return {
        "events_written": rows_written,
        # late arrivals are valid events (adjustments), so they count as good
        "good_events": rows_written - sum(v for k, v in bad_counts.items() if k != "late_arrival"),
        "bad_events": bad_counts,
        "usage_sources": {
            src: {"format": cfg["format"], "delivery_lag_days": cfg["delivery_lag_days"],
                  "meters": list(cfg["meters"]), "complete_through": watermarks[src],
                  "watermark_file": f"usage/{src}/_watermark.json", **per_source[src]}
            for src, cfg in catalog.SOURCES.items()},
    }


def _malform(rng, m: list) -> None:
    role = m[ROLE]
    if role == "unknown_customer":
        m[CUST] = f"C{rng.randint(10000, 99999)}"  # 5 digits: never one of C0001..C9999
    elif role == "unknown_meter":
        m[METER] = rng.choice(UNKNOWN_METERS)
    elif role == "negative_quantity":
        m[QTY] = "-" + m[QTY]
    elif role == "non_numeric_quantity":
        m[QTY] = rng.choice(NON_NUMERIC)
    elif role == "unparseable_timestamp":
        m[TS] = rng.choice(BAD_TIMESTAMPS)
    # missing_event_id: handled when ids are assigned


def _conflict(rng, c: list) -> None:
    """Same id, different payload: another quantity, or the time moved within the same day."""
    if rng.random() < 0.5:
        whole, _, frac = c[QTY].partition(".")
        c[QTY] = f"{int(whole) + rng.randint(1, 9)}" + (f".{frac}" if frac else "")
    else:
        delta = rng.randint(1, 3600) * 1000
        c[MS] = c[MS] + delta if c[MS] + delta < 86_400_000 else c[MS] - delta


def _write_folder(path: Path, src: str, cfg: dict, fmt_ts, rows: list, extra: list,
                  stats: Counter, info: dict) -> None:
    if not rows and not extra:
        return
    path.mkdir(parents=True, exist_ok=True)
    k = cfg["files_per_day"]
    chunks = [rows[i * len(rows) // k:(i + 1) * len(rows) // k] for i in range(k)]
    chunks = [ch for ch in chunks if ch] + ([extra] if extra else [])
    write = _write_jsonl if cfg["format"] == "jsonl" else _write_parquet
    for n, chunk in enumerate(chunks, start=1):
        write(path / f"events-{n}.{cfg['format']}", chunk, src, fmt_ts)
        stats.update(r[ROLE] for r in chunk if r[ROLE])
    info["files"] += len(chunks)
    info["rows"] += len(rows) + len(extra)
    info["folders"] += 1
