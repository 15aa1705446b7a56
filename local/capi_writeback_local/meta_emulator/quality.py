"""`GET /{version}/dataset_quality` computed from what the emulator received (CAPI-REFERENCE §11).

Meta computes Event Match Quality from how many events it can match to an account, which no
emulator can know. This module is a documented **approximation** built only from the keys present
in the received events, so a sender can see its match-key coverage move the way Meta's would:

- **Which events.** Live (non-test) events accepted for the dataset in the last 7 days (by receipt
  time). EMQ covers web events only, so by default only `action_source: website` events count
  (`Strictness.quality_web_only=False` counts every source; Meta does not). With `agent_name`,
  only events sent with a `partner_agent` that normalizes to it (lower case, trailing `_<digits>`
  version parts dropped: `acme_2_1` -> `acme`).
- **`match_key_feedback`**: per identifier present in any event of that name, the percentage of
  events carrying it (one decimal), under Meta's identifier names (`em` -> `email`, ...).
- **`composite_score`** (0-10): the mean over events of `min(10, sum of WEIGHTS of the keys
  present)`. The weights follow the order third parties report (em > ph > fbc/fbp > external_id >
  ip/user agent > names > geo/demographics; CAPI-REFERENCE §6.4, UNCONFIRMED); Meta publishes no
  formula. An event with an email only scores 4, email + phone 7, those plus external_id, IP and
  user agent 10.
- **`data_freshness.upload_frequency`**: from the median delay between `event_time` and receipt:
  <= 10 min `real_time`, <= 90 min `hourly`, <= 36 h `daily`, else `weekly` (Meta's examples show
  `real_time` and `hourly`; the other two values are UNCONFIRMED).
- **`dedupe_key_feedback`**: `server_events_with_dedupe_key` for `event_id`, `external_id`, `fbp`.
  Browser-side figures, `event_coverage`, `acr` and `diagnostics` need the Meta Pixel's events and
  are never returned.

`fields` uses Graph's field expansion (`web{event_name,event_match_quality{composite_score}}`);
names Meta documents but the emulator does not compute are accepted and left out, unknown names are
refused with code 100 (including `dedup_key_feedback`: a public report says Meta refuses that
spelling of `dedupe_key_feedback`).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

WINDOW_SECONDS = 7 * 86400
# Meta's identifier names in match_key_feedback for the user_data keys (email, phone, external_id,
# ip_address and user_agent appear in Meta's examples; the others follow the same pattern).
IDENTIFIERS = {
    "em": "email", "ph": "phone", "external_id": "external_id", "client_ip_address": "ip_address",
    "client_user_agent": "user_agent", "fbc": "fbc", "fbp": "fbp", "fn": "first_name",
    "ln": "last_name", "db": "date_of_birth", "ge": "gender", "ct": "city", "st": "state",
    "zp": "zip", "country": "country",
}
WEIGHTS = {
    "em": 4.0, "ph": 3.0, "fbc": 2.0, "fbp": 1.5, "external_id": 1.5, "client_ip_address": 1.0,
    "client_user_agent": 0.5, "fn": 0.5, "ln": 0.5,
    "db": 0.25, "ge": 0.25, "ct": 0.25, "st": 0.25, "zp": 0.25, "country": 0.25,
}
MAX_SCORE = 10.0
DEDUPE_KEYS = ("event_id", "external_id", "fbp")
# (upper bound of the median delay in seconds, upload_frequency)
FRESHNESS = ((600, "real_time"), (5400, "hourly"), (36 * 3600, "daily"))
SLOWEST = "weekly"
FRESHNESS_NOTE = ("How often events of this name arrive, estimated by the emulator from the median delay "
                  "between event_time and receipt.")
DEDUPE_NOTE = "The percentage of server events that contain this dedupe key."

# What `fields` may name (Meta's documented fields); None = a leaf, ANY = subfields not checked.
ANY: dict[str, Any] = {}
_PERCENT = {"percentage": None, "description": None}
SCHEMA: dict[str, Any] = {
    "web": {
        "event_name": None,
        "event_match_quality": {
            "composite_score": None,
            "match_key_feedback": {"identifier": None, "coverage": _PERCENT,
                                   "potential_aly_acr_increase": _PERCENT},
            "diagnostics": ANY,
        },
        "event_coverage": {"percentage": None, "goal_percentage": None, "description": None,
                           "potential_aly_acr_increase": _PERCENT},
        "dedupe_key_feedback": {"dedupe_key": None, "browser_events_with_dedupe_key": _PERCENT,
                                "server_events_with_dedupe_key": _PERCENT,
                                "overall_browser_coverage_from_dedupe_key": _PERCENT},
        "data_freshness": {"upload_frequency": None, "description": None},
        "acr": ANY,
        "event_potential_aly_acr_increase": _PERCENT,
    },
}


class FieldError(ValueError):
    """`fields` is malformed or names a field that does not exist (Graph answers code 100)."""


@dataclass(frozen=True)
class ReceivedBatch:
    """One accepted live request: when it arrived, its `partner_agent`, and its events."""

    received_at: float
    partner_agent: str | None
    events: list[dict[str, Any]]


def normalize_agent(value: str) -> str:
    """Meta's normalized agent name: lower case, without trailing `_<digits>` version parts."""
    return re.sub(r"(_\d+)+\Z", "", value.strip().lower())


def parse_fields(text: str) -> dict[str, Any]:
    """Graph field expansion -> {name: subfields or None}: `a,b{c,d{e}}`."""
    tree, rest = _parse_list(text.replace(" ", ""))
    if rest:
        raise FieldError(f"unexpected {rest[0]!r} in fields")
    return tree


def _parse_list(text: str) -> tuple[dict[str, Any], str]:
    tree: dict[str, Any] = {}
    while True:
        found = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text)
        if not found:
            raise FieldError("a field name was expected in fields")
        name, text = found.group(0), text[found.end():]
        sub: dict[str, Any] | None = None
        if text.startswith("{"):
            sub, text = _parse_list(text[1:])
            if not text.startswith("}"):
                raise FieldError(f"unclosed '{{' after {name} in fields")
            text = text[1:]
        tree[name] = sub
        if not text.startswith(","):
            return tree, text
        text = text[1:]


def check_fields(tree: Mapping[str, Any], schema: Mapping[str, Any] = SCHEMA) -> None:
    """Refuse names the schema does not know, at every depth."""
    for name, sub in tree.items():
        if name not in schema:
            raise FieldError(f"(#100) Tried accessing nonexisting field ({name})")
        known = schema[name]
        if sub is not None and known is not ANY:
            if known is None:
                raise FieldError(f"(#100) Field {name} has no subfields")
            check_fields(sub, known)


def project(value: Any, tree: Mapping[str, Any] | None) -> Any:
    """Keep only the requested fields (a field without subfields keeps everything below it)."""
    if tree is None:
        return value
    if isinstance(value, list):
        return [project(item, tree) for item in value]
    if isinstance(value, dict):
        return {name: project(value[name], sub) for name, sub in tree.items() if name in value}
    return value


def dataset_quality(
    batches: Iterable[ReceivedBatch], *, now: float, agent_name: str | None = None, web_only: bool = True,
) -> dict[str, Any]:
    """The full `{"web": [...]}` answer, one entry per event name (sorted by name)."""
    wanted = normalize_agent(agent_name) if agent_name else None
    by_name: dict[str, list[tuple[dict[str, Any], float]]] = {}
    for batch in batches:
        if batch.received_at < now - WINDOW_SECONDS:
            continue
        if wanted is not None and (not batch.partner_agent or normalize_agent(batch.partner_agent) != wanted):
            continue
        for event in batch.events:
            if web_only and event.get("action_source") != "website":
                continue
            by_name.setdefault(str(event.get("event_name")), []).append((event, batch.received_at))
    return {"web": [_event_quality(name, rows) for name, rows in sorted(by_name.items())]}


def _present_keys(event: Mapping[str, Any]) -> set[str]:
    user_data = event.get("user_data")
    if not isinstance(user_data, dict):
        return set()
    return {key for key, value in user_data.items() if value not in (None, "", [])}


def _percent(count: int, total: int) -> float:
    return round(100.0 * count / total, 1)


def _event_quality(name: str, rows: list[tuple[dict[str, Any], float]]) -> dict[str, Any]:
    total = len(rows)
    keys = [_present_keys(event) for event, _received in rows]
    scores = [min(MAX_SCORE, sum(WEIGHTS.get(k, 0.0) for k in present)) for present in keys]
    counts: dict[str, int] = {}
    for present in keys:
        for key in present:
            counts[key] = counts.get(key, 0) + 1
    feedback = [
        {"identifier": IDENTIFIERS.get(key, key), "coverage": {"percentage": _percent(count, total)}}
        for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], IDENTIFIERS.get(kv[0], kv[0])))
    ]
    dedupe = []
    for key in DEDUPE_KEYS:
        with_key = sum(1 for (event, _r), present in zip(rows, keys, strict=True)
                       if (event.get(key) not in (None, "") if key == "event_id" else key in present))
        dedupe.append({"dedupe_key": key, "server_events_with_dedupe_key": {
            "percentage": _percent(with_key, total), "description": DEDUPE_NOTE}})
    delays = [max(0.0, received - float(event.get("event_time") or received)) for event, received in rows]
    return {
        "event_name": name,
        "event_match_quality": {
            "composite_score": round(statistics.fmean(scores), 1),
            "match_key_feedback": feedback,
        },
        "dedupe_key_feedback": dedupe,
        "data_freshness": {"upload_frequency": _frequency(statistics.median(delays)),
                           "description": FRESHNESS_NOTE},
    }


def _frequency(delay: float) -> str:
    for bound, label in FRESHNESS:
        if delay <= bound:
            return label
    return SLOWEST
