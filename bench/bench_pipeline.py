"""Pipeline speed in-process: 50,000 messy rows through the layer's pipeline vs. a floor, in the same
run (the headline figure is the CLI end to end: bench_build).

All sides start from the same JSON Lines text and end with one JSON line per event:
- floor: `json.loads`, plain `hashlib.sha256(v.strip().lower())` over the nine PII fields, copy the
  other fields, `json.dumps` (what a naive sender does, with no normalization or validation);
- stream: `read_rows` -> `stream_events` (normalize, hash, validate, score) -> `json.dumps` per
  chunk, as a sender consumes it; and the same with the payload hash that preview/confirm pin;
- collect: `build_events` (the whole result held, as the flow does until it streams) -> `json.dumps`,
  with the GC policy of `capi_writeback.gc_policy` and with the interpreter's default collector.
Caches are emptied before every pipeline run, so each run starts cold. The sides run interleaved
and each is timed in CPU seconds of this process (best of REPEATS), because these machines are
shared and wall time mostly measures the neighbours. Goal: ratio >= 0.5.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import random
import time
from collections.abc import Iterator
from typing import Any

from capi_writeback import events
from capi_writeback.events import build_events, stream_events
from capi_writeback.reading import read_rows
from capi_writeback.settings import ProfileSettings
from capi_writeback.user_data import clear_caches

ROWS = 50_000
REPEATS = 3
NOW = 1_763_900_000
PII_FIELDS = ("email", "phone", "first_name", "last_name", "city", "state", "zip", "country", "gender")
USER_DATA_KEYS = {"email": "em", "phone": "ph", "first_name": "fn", "last_name": "ln", "city": "ct",
                  "state": "st", "zip": "zp", "country": "country", "gender": "ge"}
GOAL = 0.5

FIRST = ["John", "MARY", "José", "anne-marie", "Li", "O'Neil", "Zoë", "Mohammed", "Priya", "Kenji",
         "Olga", "Seán", "Fatima", "Lucas", "Chloé", "Ahmed", "Emma", "Noah", "Ава", "민준"]
LAST = ["Smith", "García", "O'Brien", "van der Berg", "Nguyen", "Müller", "Rossi", "Kowalski",
        "Singh", "Tanaka", "Dubois", "Johnson", "Brown", "Silva", "Ivanova", "Kim", "Lee", "Martin",
        "Wilson", "Taylor"]
PLACES = [("San Francisco", "California", "United States"), ("New York", "NY", "USA"),
          ("Austin", "texas", "US"), ("Chicago", "Illinois", "United States of America"),
          ("Seattle", "WA", "us"), ("Miami", "Florida", "U.S.A."),
          ("Boston", "Massachusetts", "United States"), ("Denver", "colorado", "US"),
          ("St. Louis", "Missouri", "USA"), ("Winston-Salem", "North Carolina", "US")]
GENDERS = ["M", "male", "F", "Female", "woman", "man", "f", "m"]
DOMAINS = ["Gmail.com", "example.COM", "Yahoo.com", "outlook.com", "company.co.uk"]
OUTCOMES = ["payment_received", "order_placed", "lead_created", "appointment_booked", "checkout_started"]
UAS = ["Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15",
       "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile/15E148",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/119.0 Safari/537.36"]


def messy_rows(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Deterministic rows as exported by real CRMs: formatted phones, mixed-case emails with spaces,
    state and country names, ZIP+4, gender words, string amounts."""
    return list(iter_messy_rows(count, seed))


def iter_messy_rows(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """`messy_rows` one at a time (to write large files without holding them)."""
    rng = random.Random(seed)
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city, state, country = rng.choice(PLACES)
        area, exchange, line = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
        phone = rng.choice([f"({area}) {exchange}-{line:04d}", f"+1 {area} {exchange} {line:04d}",
                            f"{area}.{exchange}.{line:04d}", f"1-{area}-{exchange}-{line:04d}"])
        yield {
            "conversion_id": f"ord-{i:06d}",
            "outcome_type": rng.choice(OUTCOMES),
            "occurred_at": NOW - rng.randint(60, 6 * 86400),
            "email": f"  {first[:3]}.{last[:4]}{i}@{rng.choice(DOMAINS)} ".replace(" ", "", 1),
            "phone": phone,
            "first_name": first,
            "last_name": last,
            "city": city,
            "state": state,
            "zip": f"{rng.randint(10000, 99999)}-{rng.randint(1000, 9999)}",
            "country": country,
            "gender": rng.choice(GENDERS),
            "client_ip_address": f"203.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "client_user_agent": rng.choice(UAS),
            "fbp": f"fb.1.{NOW * 1000 - rng.randint(0, 10**9)}.{rng.randint(10**9, 2 * 10**9)}",
            "value": f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}",
            "currency": rng.choice(["usd", "USD"]),
        }


def floor(text: str) -> int:
    """The naive sender: hash the nine PII fields as they are, copy the rest, serialize a dict of
    the same shape as the pipeline's events (hashes in lists, as Meta's SDKs send them)."""
    out = []
    sha256 = hashlib.sha256
    for line in text.splitlines():
        row = json.loads(line)
        user_data: dict[str, Any] = {
            USER_DATA_KEYS[key]: [sha256(str(row[key]).strip().lower().encode()).hexdigest()]
            for key in PII_FIELDS if key in row
        }
        for key in ("client_ip_address", "client_user_agent", "fbp"):
            user_data[key] = row[key]
        event = {"event_name": row["outcome_type"], "event_time": row["occurred_at"],
                 "event_id": "cw-" + row["conversion_id"], "action_source": "system_generated",
                 "user_data": user_data, "custom_data": {"value": row["value"], "currency": row["currency"]}}
        out.append(json.dumps(event))
    return len("\n".join(out))


def pipeline(text: str, hash_payload: bool = False) -> int:
    """The streaming core, as a sender consumes it: chunk by chunk, nothing kept."""
    size = 0
    stream = stream_events(read_rows(text), ProfileSettings(country="us"), NOW, hash_payload=hash_payload)
    for chunk in stream:
        size += len("\n".join(json.dumps(event) for event in chunk.payload))
    if stream.summary.skipped_count:
        raise AssertionError(f"benchmark rows were skipped: {stream.summary.skipped[:3]}")
    return size


def pipeline_hashed(text: str) -> int:
    """`pipeline` with the payload hash (preview and confirm pin it)."""
    return pipeline(text, hash_payload=True)


def collect(text: str) -> int:
    result = build_events(read_rows(text), ProfileSettings(country="us"), NOW)
    if result.skipped:
        raise AssertionError(f"benchmark rows were skipped: {result.skipped[:3]}")
    return len("\n".join(json.dumps(event) for event in result.payload))


def collect_default_gc(text: str) -> int:
    """`collect` with the GC policy switched off (the interpreter's default thresholds)."""
    with _no_gc_policy():
        return collect(text)


@contextlib.contextmanager
def _no_gc_policy() -> Iterator[None]:
    policy = events.long_build
    events.long_build = contextlib.nullcontext  # type: ignore[assignment]
    try:
        yield
    finally:
        events.long_build = policy


def _timed(fn: Any, text: str) -> float:
    clear_caches()
    gc.collect()
    start = time.process_time()
    fn(text)
    return time.process_time() - start


SIDES = {
    "floor    (sha256 of 9 raw fields + json)    ": floor,
    "stream   (normalize+hash+validate+json)     ": pipeline,
    "stream   (the same + payload hash)          ": pipeline_hashed,
    "collect  (build_events, GC policy)          ": collect,
    "collect  (build_events, default collector)  ": collect_default_gc,
}


def main() -> None:
    text = "\n".join(json.dumps(row) for row in messy_rows(ROWS))
    pipeline(text[: text.index("\n", 1000)])  # warm imports (country names, phonenumbers metadata)
    best = dict.fromkeys(SIDES, float("inf"))
    for _ in range(REPEATS):
        for label, side in SIDES.items():
            best[label] = min(best[label], _timed(side, text))
    print(f"rows: {ROWS}; CPU time, best of {REPEATS} interleaved runs; caches cleared before each run")
    for label, seconds in best.items():
        print(f"{label}: {ROWS / seconds:8,.0f} events/s ({seconds * 1e6 / ROWS:5.1f} µs/row)")
    floor_s, stream_s = best[next(iter(SIDES))], best[list(SIDES)[1]]
    ratio = floor_s / stream_s
    print(f"ratio stream/floor: {ratio:.2f} (goal >= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'})")
    policy, default = best[list(SIDES)[3]], best[list(SIDES)[4]]
    print(f"GC policy on a collecting build: {default / policy:.2f}x faster than the default collector")


if __name__ == "__main__":
    main()
