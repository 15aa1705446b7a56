"""SPEC §3.1: turn a selection (stored conversions or inline rows) into the events to send.

The same selection always yields the same payload hash, so the preview id is derived from it
statelessly: `pv_` + the first 32 hex of sha256(profile_id, payload_hash). A dry-run or confirm that
names a preview id rebuilds the payload and refuses with PAYLOAD_CHANGED when the id no longer matches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from capi_writeback.auth import Access
from capi_writeback.contracts.writeback import Selection
from capi_writeback.exceptions import InvalidRequest, PayloadChanged
from capi_writeback.flow.services import Services
from capi_writeback.flow.trail import Note
from capi_writeback.rails.audit.log import iso_ms

DEFAULT_LAST_DAYS = 7
MAX_LISTED_SKIPS = 1000


@dataclass(frozen=True)
class Built:
    """The events a selection produced, with what the responses and the audit row need."""

    result: Any  # capi_writeback.events.BuildResult
    window: dict[str, str] | None
    preview_id: str

    @property
    def payload(self) -> list[dict[str, Any]]:
        return list(self.result.payload)

    @property
    def payload_hash(self) -> str:
        return str(self.result.payload_hash)

    @property
    def event_count(self) -> int:
        return len(self.result.events)

    def skipped(self) -> list[dict[str, Any]]:
        """Skipped rows as the API lists them (at most MAX_LISTED_SKIPS; `skipped_count` has all)."""
        return [
            {"conversion_id": s.conversion_id, "reason": str(getattr(s.reason, "value", s.reason)),
             "detail": s.detail}
            for s in list(self.result.skipped)[:MAX_LISTED_SKIPS]
        ]

    @property
    def skipped_count(self) -> int:
        return len(self.result.skipped)

    def warnings(self) -> list[str]:
        warnings = [str(w) for w in self.result.warnings]
        if self.skipped_count > MAX_LISTED_SKIPS:
            warnings.append(f"{self.skipped_count - MAX_LISTED_SKIPS} more skipped rows are not listed")
        return warnings


def preview_id_for(profile_id: str, payload_hash: str) -> str:
    return "pv_" + hashlib.sha256(f"{profile_id}\n{payload_hash}".encode()).hexdigest()[:32]


def profile_settings(profile: Mapping[str, Any]) -> Any:
    """The profile's stored settings as a ProfileSettings."""
    from capi_writeback.settings import ProfileSettings

    stored = profile.get("settings")
    return ProfileSettings.from_dict(stored if isinstance(stored, Mapping) else None)


def build(services: Services, access: Access, selection: Selection, note: Note) -> Built:
    """Build the selection's events, check pixel_id and preview_id, and note them for the audit."""
    from capi_writeback.events import build_events

    connection = access.connection
    note.pixel_id = str(connection.get("pixel_id") or "") or None
    if selection.pixel_id is not None and selection.pixel_id != note.pixel_id:
        raise InvalidRequest(
            "pixel_id does not match the profile's Meta connection.",
            fix="Omit pixel_id or pass the pixel id of this profile's connection.",
            details=[{"field": "pixel_id", "message": "does not match the profile connection's pixel id"}])
    now = services.clock()
    settings = profile_settings(access.profile)
    rows: Iterable[Mapping[str, Any]]
    window: dict[str, str] | None
    if selection.rows is not None:
        rows = selection.rows
        window = None
    else:
        if selection.window is not None:
            start, end = selection.window.start.timestamp(), selection.window.end.timestamp()
        else:
            end = now
            start = now - (selection.last_days or DEFAULT_LAST_DAYS) * 86400
        window = {"start": iso_ms(start), "end": iso_ms(end)}
        rows = services.conversions.query(access.profile_id, int(start), int(end),
                                          selection.outcome_types)
    result = build_events(list(rows), settings, now)
    if window is None:
        times = [e.event.get("event_time") for e in result.events]
        stamps = [t for t in times if isinstance(t, int | float)]
        window = {"start": iso_ms(min(stamps)), "end": iso_ms(max(stamps))} if stamps else None
    built = Built(result=result, window=window,
                  preview_id=preview_id_for(access.profile_id, str(result.payload_hash)))
    note.payload_hash = built.payload_hash
    note.event_count = built.event_count
    note.match_quality = {k: int(v) for k, v in dict(result.match_quality).items()}
    note.window = window
    if selection.preview_id is not None and selection.preview_id != built.preview_id:
        raise PayloadChanged(details={"preview_id": selection.preview_id,
                                      "current_preview_id": built.preview_id,
                                      "payload_hash": built.payload_hash})
    return built
