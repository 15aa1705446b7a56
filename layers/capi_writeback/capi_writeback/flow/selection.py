"""SPEC §3.1: turn a selection (stored conversions or inline rows) into the events to send, streamed.

A build reads the rows as it goes (stored ones page by page from the conversion store) and keeps only
what it adds up to (`BuildSummary`: counts, match quality, the first skipped rows and samples,
warnings) and the payload hash, so its memory is flat in the number of rows (SPEC §12). A step
builds a selection once: it iterates `Build.chunks()` (preview) or `Build.batches()` (dry-run,
confirm: encoded Meta batches), then asks `Build.built()` for the totals.

The same selection always yields the same payload hash, so the preview id is derived from it
statelessly: `pv_` + the first 32 hex of sha256(profile_id, payload_hash). A dry-run or confirm that
names a preview id rebuilds the payload and refuses with PAYLOAD_CHANGED when the id no longer matches.

A confirm's idempotency key is looked up by the request's `fingerprint` before anything is built
(rails/idempotency/ledger.py): the canonical request, so that the same request sent again, even days
later with `last_days`, is recognised as the same without building it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from capi_writeback.auth import Access
from capi_writeback.contracts.writeback import Selection
from capi_writeback.exceptions import InvalidRequest, PayloadChanged
from capi_writeback.flow.services import Services
from capi_writeback.flow.trail import Note
from capi_writeback.rails.audit.log import iso_ms

if TYPE_CHECKING:  # the build modules are imported when a build starts (cold starts pay for imports)
    from capi_writeback.built import Chunk
    from capi_writeback.events import EventStream
    from capi_writeback.flow.batches import Batches
    from capi_writeback.meta.encoding import EncodedBatch
    from capi_writeback.settings import ProfileSettings
    from capi_writeback.summary import BuildSummary

DEFAULT_LAST_DAYS = 7
MAX_LISTED_SKIPS = 1000
FINGERPRINT_VERSION = 1  # bump when the canonical request below changes meaning


@dataclass(frozen=True)
class Built:
    """What a whole build of a selection added up to. The events themselves are not kept: the first
    three (`sample_events`) and counts are."""

    summary: BuildSummary
    payload_hash: str
    window: dict[str, str] | None
    preview_id: str

    @property
    def event_count(self) -> int:
        return self.summary.event_count

    @property
    def sample_events(self) -> list[dict[str, Any]]:
        return list(self.summary.samples)

    @property
    def events_by_name(self) -> dict[str, int]:
        return self.summary.events_by_name

    @property
    def match_quality(self) -> dict[str, int]:
        return self.summary.match_quality

    def skipped(self) -> list[dict[str, Any]]:
        """Skipped rows as the API lists them (at most MAX_LISTED_SKIPS; `skipped_count` has all)."""
        return [
            {"conversion_id": s.conversion_id, "reason": str(getattr(s.reason, "value", s.reason)),
             "detail": s.detail}
            for s in self.summary.skipped[:MAX_LISTED_SKIPS]
        ]

    @property
    def skipped_count(self) -> int:
        return self.summary.skipped_count

    def warnings(self) -> list[str]:
        warnings = [str(w) for w in self.summary.warnings]
        if self.skipped_count > MAX_LISTED_SKIPS:
            warnings.append(f"{self.skipped_count - MAX_LISTED_SKIPS} more skipped rows are not listed")
        return warnings


def preview_id_for(profile_id: str, payload_hash: str) -> str:
    return "pv_" + hashlib.sha256(f"{profile_id}\n{payload_hash}".encode()).hexdigest()[:32]


def profile_settings(profile: Mapping[str, Any]) -> ProfileSettings:
    """The profile's stored settings as a ProfileSettings."""
    from capi_writeback.settings import ProfileSettings

    stored = profile.get("settings")
    return ProfileSettings.from_dict(stored if isinstance(stored, Mapping) else None)


def check_pixel(access: Access, selection: Selection, note: Note) -> None:
    """The selection's pixel_id, when given, must be the connection's (noted for the audit)."""
    note.pixel_id = str(access.connection.get("pixel_id") or "") or None
    if selection.pixel_id is not None and selection.pixel_id != note.pixel_id:
        raise InvalidRequest(
            "pixel_id does not match the profile's Meta connection.",
            fix="Omit pixel_id or pass the pixel id of this profile's connection.",
            details=[{"field": "pixel_id", "message": "does not match the profile connection's pixel id"}])


def fingerprint(access: Access, selection: Selection) -> str:
    """The canonical request a confirm's key stands for: the selection as asked (`last_days` as a
    number of days, not the window it meant at some moment; outcome types as a set; inline rows by
    their hash), its preview_id and pixel_id, and the profile settings that shape the events. Two
    requests with the same fingerprint are the same request, whenever they are made."""
    rows_hash = None
    if selection.rows is not None:
        text = json.dumps(selection.rows, sort_keys=True, separators=(",", ":"), default=str)
        rows_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    stored = selection.rows is None
    canonical = {
        "v": FINGERPRINT_VERSION,
        "rows": rows_hash,
        "outcome_types": sorted(set(selection.outcome_types)) if selection.outcome_types else None,
        "last_days": (selection.last_days or DEFAULT_LAST_DAYS) if stored and selection.window is None
        else None,
        "window": [iso_ms(selection.window.start.timestamp()), iso_ms(selection.window.end.timestamp())]
        if selection.window is not None else None,
        "pixel_id": selection.pixel_id,
        "preview_id": selection.preview_id,
        "settings": profile_settings(access.profile).to_dict(),
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return "fp1:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class Build:
    """One streamed build of a selection, resolved `as_of` (unix seconds: the window of
    `last_days` and the event age checks). Take `chunks()` or `batches()` once, then `built()`."""

    def __init__(self, services: Services, access: Access, selection: Selection, note: Note, *,
                 as_of: float | None = None) -> None:
        check_pixel(access, selection, note)
        self.access = access
        self.selection = selection
        self.note = note
        self.as_of = services.clock() if as_of is None else as_of
        self.settings = profile_settings(access.profile)
        self.window: dict[str, str] | None = None
        self._rows: Iterable[Mapping[str, Any]]
        if selection.rows is not None:
            self._rows = selection.rows
        else:
            if selection.window is not None:
                start, end = selection.window.start.timestamp(), selection.window.end.timestamp()
            else:
                end = self.as_of
                start = end - (selection.last_days or DEFAULT_LAST_DAYS) * 86400
            self.window = {"start": iso_ms(start), "end": iso_ms(end)}
            self._rows = services.conversions.query(access.profile_id, int(start), int(end),
                                                    selection.outcome_types)
        self._stream: EventStream | None = None
        self._batches: Batches | None = None
        self._times: list[float] = []  # the earliest and latest event_time (inline rows' window)

    def chunks(self, *, hash_payload: bool = True) -> Iterator[Chunk]:
        """The build's chunks, in input order (see events.stream_events)."""
        from capi_writeback.events import stream_events

        if self._stream is not None:
            raise RuntimeError("a selection is built once")
        self._stream = stream_events(self._rows, self.settings, self.as_of, hash_payload=hash_payload)
        inline = self.selection.rows is not None
        for chunk in self._stream:
            if inline and chunk.events:
                self._span(chunk)
            yield chunk

    def batches(self) -> Iterator[EncodedBatch]:
        """The payload as encoded Meta batches of 1,000 (flow/batches.py), hashed as they go."""
        from capi_writeback.flow.batches import Batches

        self._batches = Batches(self.chunks(hash_payload=False))
        return iter(self._batches)

    def built(self) -> Built:
        """The totals of the whole build (once it was iterated to the end), noted for the audit row.
        PayloadChanged when the selection's preview_id is not this payload's."""
        if self._stream is None:
            raise RuntimeError("the selection was not built")
        summary = self._stream.summary
        payload_hash = self._batches.payload_hash if self._batches is not None else summary.payload_hash
        window = self.window
        if window is None and self._times:
            window = {"start": iso_ms(self._times[0]), "end": iso_ms(self._times[1])}
        built = Built(summary=summary, payload_hash=payload_hash, window=window,
                      preview_id=preview_id_for(self.access.profile_id, payload_hash))
        self.note.payload_hash = built.payload_hash
        self.note.event_count = built.event_count
        self.note.match_quality = {k: int(v) for k, v in built.match_quality.items()}
        self.note.window = window
        if self.selection.preview_id is not None and self.selection.preview_id != built.preview_id:
            raise PayloadChanged(details={"preview_id": self.selection.preview_id,
                                          "current_preview_id": built.preview_id,
                                          "payload_hash": built.payload_hash})
        return built

    def _span(self, chunk: Chunk) -> None:
        stamps = [t for t in (b.event.get("event_time") for b in chunk.events) if isinstance(t, int | float)]
        if stamps:
            low, high = min(stamps), max(stamps)
            if self._times:
                low, high = min(low, self._times[0]), max(high, self._times[1])
            self._times = [low, high]


def build(services: Services, access: Access, selection: Selection, note: Note) -> Built:
    """Build the whole selection without sending anything (a preview): its totals."""
    selected = Build(services, access, selection, note)
    for _chunk in selected.chunks():
        pass
    return selected.built()
