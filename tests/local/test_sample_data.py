"""The shipped sample: reproducible from its seeded generator, small, and never stale."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime
from importlib import resources

from capi_writeback_local.data import SAMPLE_FILE, load_sample
from capi_writeback_local.data.generate_sample import ROWS, SEED, make_row


def _committed() -> str:
    return resources.files("capi_writeback_local.data").joinpath(SAMPLE_FILE).read_text(encoding="utf-8")


def test_committed_file_is_what_the_generator_makes() -> None:
    rng = random.Random(SEED)
    regenerated = "".join(json.dumps(make_row(rng, i), ensure_ascii=False, separators=(",", ":")) + "\n"
                          for i in range(1, ROWS + 1))
    assert regenerated == _committed()
    assert len(_committed().encode()) < 2 * 1024 * 1024


def test_times_are_shifted_to_now_in_every_accepted_form() -> None:
    now = 2_000_000_000.0
    rows = load_sample(now)
    assert len(rows) == ROWS
    seconds = []
    for row in rows:
        value = row["occurred_at"]
        assert "_occurred_at_offset" not in row and "_occurred_at_format" not in row
        if isinstance(value, str):
            seconds.append(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        elif value > 10**11:
            seconds.append(value / 1000)
        else:
            seconds.append(value)
    kinds = Counter(type(r["occurred_at"]).__name__ for r in rows)
    assert kinds["str"] > 0 and kinds["int"] > 0
    assert any(r["occurred_at"] > 10**11 for r in rows if isinstance(r["occurred_at"], int))
    assert min(seconds) >= now - 41 * 86400 and max(seconds) <= now + 6 * 86400
    assert sum(s < now - 7 * 86400 for s in seconds) > 50  # some stale
    assert sum(s > now for s in seconds) > 0  # a few in the future
    later = load_sample(now + 86400)
    assert later[0]["conversion_id"] == rows[0]["conversion_id"]


def test_sample_is_mixed_and_messy() -> None:
    rows = load_sample(2_000_000_000.0)
    outcomes = Counter(r.get("outcome_type") for r in rows)
    assert len([o for o in outcomes if o]) >= 8
    assert sum(1 for r in rows if "event_name" in r) > 20  # custom events, some invalid
    purchase_types = ("payment_received", "order_placed", "closed_won")
    purchases = [r for r in rows if r.get("outcome_type") in purchase_types]
    assert sum(1 for r in purchases if "value" not in r) > 20
    ids = ("email", "em", "phone", "ph", "external_id", "client_ip_address", "fbp", "fbclid")
    assert sum(1 for r in rows if not any(k in r for k in ids)) > 50
    emails = [r.get("email") for r in rows if isinstance(r.get("email"), str)]
    assert any(e != e.strip() or e != e.lower() for e in emails)
    assert any(isinstance(r.get("email"), list) for r in rows)
    assert any("em" in r or "ph" in r for r in rows)  # CAPI's own key names as synonyms
    assert len({r["conversion_id"] for r in rows}) == len(rows)
