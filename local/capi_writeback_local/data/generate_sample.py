"""Regenerate `sample_conversions.jsonl`, the demo's realistic sample (seeded: same file every run).

    python -m capi_writeback_local.data.generate_sample

Times are stored as offsets (`_occurred_at_offset`, seconds before now) plus the format the row
should carry (`_occurred_at_format`: unix seconds, unix milliseconds or ISO-8601), so the sample is
never stale: `load_sample(now)` turns them into real timestamps. The mix is deliberate: mostly
sendable rows with messy PII, plus rows each safety check must catch (stale, future, Purchase
without value, no identifier, website rows without a user agent, invalid custom event names).
"""

from __future__ import annotations

import hashlib
import json
import random
import unicodedata
from pathlib import Path
from typing import Any

SEED = 20260701
ROWS = 4000
OUT = Path(__file__).with_name("sample_conversions.jsonl")

FIRST = ["Ana", "JOSÉ", "  maria ", "Chloé", "Liam", "noah", "Olivia", "Émile", "Zoë", "Mateo", "Sofía",
         "Aarav", "Mei", "Oluwaseun", "Jürgen", "Siobhán", "Kenji", "Fatima", "Ólafur", "Grace"]
LAST = ["García", "O'Brien", "Smith-Jones", "  NGUYEN", "Müller", "de la Cruz", "Kowalski", "Okafor",
        "Rossi", "Tanaka", "Dubois", "Andersson", "Ivanova", "Haddad", "Silva", "MacLeod"]
DOMAINS = ["example.com", "Example.org", "mail.example.net", "EXAMPLE.COM", "shop.example.io"]
CITIES = [("San Francisco", "California", "94103-1234", "US", "(415) 555-{n:04d}"),
          ("New York", "NY", "10001", "us", "212.555.{n:04d}"),
          ("Austin", "Texas", "73301", "United States", "+1 512 555 {n:04d}"),
          ("London", "", "SW1A 1AA", "GB", "+44 20 7946 {n:04d}"),
          ("Berlin", "", "10115", "DE", "030 {n:04d}555"),
          ("Paris", "", "75001", "France", "+33 1 42 68 {a:02d} {b:02d}"),
          ("Seattle", "wa", "98101", "US", "206-555-{n:04d}")]
AGENTS = ["Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.5 Safari/605.1.15",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0 Safari/537.36",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"]
# outcome_type -> weight, typical value range (None: no value)
OUTCOMES: dict[str, tuple[int, tuple[float, float] | None]] = {
    "payment_received": (30, (19.0, 480.0)),
    "order_placed": (12, (9.0, 220.0)),
    "closed_won": (5, (900.0, 25000.0)),
    "lead_created": (20, None),
    "appointment_booked": (10, None),
    "checkout_started": (8, (15.0, 300.0)),
    "add_to_cart": (7, (5.0, 120.0)),
    "view_content": (5, None),
    "search": (3, None),
}
DAY = 86_400


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").replace("'", "")


def _email(rng: random.Random, first: str, last: str) -> str | list[str]:
    local = _ascii(f"{first.strip().lower()}.{last.strip().lower().replace(' ', '')}{rng.randint(1, 999)}")
    email = f"{local}@{rng.choice(DOMAINS)}"
    style = rng.random()
    if style < 0.15:
        return f"  {email.upper()} "
    if style < 0.22:
        return hashlib.sha256(email.strip().lower().encode()).hexdigest()  # already hashed upstream
    if style < 0.30:
        return [email, _ascii(f"{first.strip().lower()}@{rng.choice(DOMAINS)}")]
    if style < 0.33:
        return "not-an-email"  # dropped with a warning
    return email


def _phone(rng: random.Random, template: str) -> str:
    return template.format(n=rng.randint(100, 9999), a=rng.randint(10, 99), b=rng.randint(10, 99))


def _offset(rng: random.Random, kind: str) -> int:
    if kind == "stale":
        return -rng.randint(8 * DAY, 30 * DAY)
    if kind == "future":
        return rng.randint(2 * DAY, 5 * DAY)
    if kind == "store":
        return -rng.randint(2 * DAY, 40 * DAY)
    return -rng.randint(600, 6 * DAY + 20 * 3600)


def make_row(rng: random.Random, i: int) -> dict[str, Any]:
    """One conversion row; `kind` decides which check (if any) it should trip."""
    outcome = rng.choices(list(OUTCOMES), weights=[w for w, _ in OUTCOMES.values()])[0]
    kind = rng.choices(["ok", "stale", "future", "no_value", "no_ids", "web_no_ua", "store", "bad_name",
                        "custom"], weights=[80, 6, 1, 3, 3, 2, 2, 1, 2])[0]
    first, last = rng.choice(FIRST), rng.choice(LAST)
    city, state, zip_code, country, phone_tpl = rng.choice(CITIES)
    row: dict[str, Any] = {"conversion_id": f"conv-{i:06d}", "outcome_type": outcome}
    row["_occurred_at_offset"] = _offset(rng, kind)
    row["_occurred_at_format"] = rng.choice(["s", "s", "ms", "iso"])
    if kind in ("custom", "bad_name"):
        del row["outcome_type"]
        row["event_name"] = (rng.choice(["trial_started", "quote_requested", "demo_attended"])
                             if kind == "custom" else rng.choice(["fb_internal", "Bad Name!", "9lives"]))
    if kind != "no_ids":
        synonyms = rng.random() < 0.1  # CAPI's own short keys instead of ours
        if rng.random() < 0.85:
            row["em" if synonyms else "email"] = _email(rng, first, last)
        if rng.random() < 0.6:
            row["ph" if synonyms else "phone"] = _phone(rng, phone_tpl)
        if rng.random() < 0.5:
            row["fn" if synonyms else "first_name"] = first
            row["ln" if synonyms else "last_name"] = last
        if rng.random() < 0.4:
            row.update({"city": city, "zip": zip_code, "country": country})
            if state:
                row["state"] = state
        if rng.random() < 0.15:
            row["date_of_birth"] = rng.choice(["1987-04-12", "12/31/1990", "19751103"])
            row["gender"] = rng.choice(["Female", "M", "f", "male"])
        if rng.random() < 0.3:
            row["external_id"] = f" crm-{rng.randint(10000, 99999)} "
        if rng.random() < 0.35:
            row["client_ip_address"] = f"203.0.113.{rng.randint(1, 254)}"
            row["client_user_agent"] = rng.choice(AGENTS)
        if rng.random() < 0.25:
            row["fbp"] = f"fb.1.{1_700_000_000_000 + i}.{rng.randint(10**9, 10**10 - 1)}"
        if rng.random() < 0.1:
            row["fbclid"] = f"IwAR{rng.randint(10**11, 10**12 - 1)}"
    if rng.random() < 0.15 or kind == "web_no_ua":
        row["action_source"] = "website"
        row["event_source_url"] = f"https://shop.example.com/checkout/{i}"
        if kind == "web_no_ua":
            row.pop("client_user_agent", None)
        elif "client_user_agent" not in row:
            row["client_user_agent"] = rng.choice(AGENTS)
            row["client_ip_address"] = f"198.51.100.{rng.randint(1, 254)}"
    if kind == "store":
        row["action_source"] = "physical_store"
    value_range = OUTCOMES[outcome][1]
    if value_range and kind != "no_value":
        value = round(rng.uniform(*value_range), 2)
        row["value"] = str(value) if rng.random() < 0.2 else value
        row["currency"] = rng.choice(["USD", "usd", "USD", "EUR"])
        if rng.random() < 0.4:
            row["order_id"] = f"ORD-{rng.randint(100000, 999999)}"
            row["num_items"] = rng.randint(1, 5)
    if kind == "no_value" and outcome not in ("payment_received", "order_placed", "closed_won"):
        row["outcome_type"] = "payment_received"  # a Purchase without value/currency
    if rng.random() < 0.05:
        row["event_id"] = f"evt-{i:06d}"
    return row


def main() -> None:
    rng = random.Random(SEED)
    with OUT.open("w", encoding="utf-8") as fh:
        for i in range(1, ROWS + 1):
            fh.write(json.dumps(make_row(rng, i), ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {ROWS} rows to {OUT} ({OUT.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
