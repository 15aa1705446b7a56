"""The conversion store's protocol and the rules both backends apply to a row's key, time and order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, Protocol

TTL_SECONDS = 90 * 86400  # stored rows outlive Meta's longest window (62 days, physical_store)


class ConversionStore(Protocol):
    """Stored conversion rows (already normalized and hashed: no raw PII)."""

    def put_rows(self, profile_id: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Upsert rows by conversion_id (the last of a repeated id wins); the number written."""

    def query(self, profile_id: str, start: float, end: float,
              outcome_types: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Rows with start <= occurred_at <= end (and outcome_type in `outcome_types` if given),
        oldest first, rows of the same second by conversion_id (`in_time_order`), read as they are
        iterated: a window of a million rows never sits in memory."""


def conversion_id_of(row: Mapping[str, Any]) -> str:
    """The row's key; ValueError when it has none (rows come from `rows.prepare_for_storage`)."""
    conversion_id = row.get("conversion_id")
    if not isinstance(conversion_id, str | int) or isinstance(conversion_id, bool) \
            or str(conversion_id) == "":
        raise ValueError("every stored row needs a conversion_id")
    return str(conversion_id)


def occurred_at_seconds(value: Any) -> float:
    """A stored row's occurred_at: unix seconds, as `rows.prepare_for_storage` leaves it (parsing
    other forms is the job of rows.py, in one place)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("a stored row's occurred_at must be unix seconds (use rows.prepare_for_storage)")
    return float(value)


def in_time_order(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Rows already in occurred_at order (an index gives them so), with each run of one occurred_at
    put in conversion_id order: an index leaves the order of equal sort keys open, and the order of
    the rows is the order of the events, so the payload hash depends on it. Holds one run at a time."""
    run: list[tuple[str, dict[str, Any]]] = []
    run_at: float | None = None
    for row in rows:
        at = occurred_at_seconds(row.get("occurred_at"))
        if at != run_at:
            if run:
                run.sort(key=_first)
                yield from (r for _, r in run)
                run = []
            run_at = at
        run.append((conversion_id_of(row), row))
    run.sort(key=_first)
    yield from (r for _, r in run)


def _first(entry: tuple[str, dict[str, Any]]) -> str:
    return entry[0]
