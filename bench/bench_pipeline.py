"""Pipeline speed: 50,000 messy rows through the whole pipeline vs. a floor, in the same run.

Both sides start from the same JSON Lines text and end with one JSON line per event:
- floor: `json.loads`, plain `hashlib.sha256(v.strip().lower())` over the nine PII fields, copy the
  other fields, `json.dumps` (what a naive sender does, with no normalization or validation);
- pipeline: `read_rows` -> `build_events` (normalize, hash, validate, score) -> `json.dumps`.
Caches are emptied before every pipeline run, so each run starts cold. The two sides run
interleaved and each is timed in CPU seconds of this process (best of REPEATS), because these
machines are shared and wall time mostly measures the neighbours. Goal: ratio >= 0.5.
"""

from __future__ import annotations

import gc
import hashlib
import json
import random
import time
from collections.abc import Iterator
from typing import Any

from capi_writeback.events import build_events
from capi_writeback.normalize import clear_caches
from capi_writeback.reading import read_rows
from capi_writeback.settings import ProfileSettings

ROWS = 50_000
REPEATS = 5
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


def pipeline(text: str) -> int:
    result = build_events(read_rows(text), ProfileSettings(country="us"), NOW)
    if result.skipped:
        raise AssertionError(f"benchmark rows were skipped: {result.skipped[:3]}")
    return len("\n".join(json.dumps(event) for event in result.payload))


def _timed(fn: Any, text: str) -> float:
    clear_caches()
    gc.collect()
    start = time.process_time()
    fn(text)
    return time.process_time() - start


def main() -> None:
    text = "\n".join(json.dumps(row) for row in messy_rows(ROWS))
    pipeline(text[: text.index("\n", 1000)])  # warm imports (country names, phonenumbers metadata)
    floor_s = pipe_s = float("inf")
    for _ in range(REPEATS):
        floor_s = min(floor_s, _timed(floor, text))
        pipe_s = min(pipe_s, _timed(pipeline, text))
    floor_rate, pipe_rate = ROWS / floor_s, ROWS / pipe_s
    ratio = pipe_rate / floor_rate
    print(f"rows: {ROWS}; CPU time, best of {REPEATS} interleaved runs; caches cleared before each run")
    for label, rate, seconds in (("floor    (sha256 of 9 raw fields + json)", floor_rate, floor_s),
                                 ("pipeline (normalize+hash+validate+json) ", pipe_rate, pipe_s)):
        print(f"{label}: {rate:8,.0f} events/s ({seconds * 1e6 / ROWS:5.1f} µs/row)")
    print(f"ratio pipeline/floor: {ratio:.2f} (goal >= {GOAL}: {'met' if ratio >= GOAL else 'NOT met'})")


if __name__ == "__main__":
    main()
