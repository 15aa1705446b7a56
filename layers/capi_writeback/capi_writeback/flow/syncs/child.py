"""One work item of a run: the Distributed Map's child (SPEC §10, §12).

It streams its object (or byte range) through the layer: lines (gzip by magic bytes) -> rows
(`reading.read_rows`) -> mapped rows (`syncs.mapping`) -> the streaming core (`events.stream_events`,
chunks of 1,000 rows) -> the ledger (drop keys already sent; a live run claims the new ones) ->
Meta in batches of 1,000 (up to the client's concurrency at once) -> record: each accepted batch's
keys are marked sent as soon as Meta answers (`on_batch`), refused or failed ones released for the
next run, and every row's outcome written in pages. Memory holds a chunk, the batches in flight and
one page of outcomes, whatever the size of the object.

A retried child (same run and item, so the same ledger owner) takes its own claims back and skips
what it already marked sent, counting it as sent: only the batches in flight when it crashed, sent
but not yet marked, go again, and Meta deduplicates those by event_id (the same on every build).

A dry run sends with the run's test_event_code and writes nothing to the ledger. A live run checks
the profile's circuit breaker first (open: the item is `paused`, nothing read). The child stops
early, leaving its remaining rows to the next run, after GIVE_UP_AFTER failed batches in a row
(Meta is down: `failed`) or when its invocation is about to end (`cut_short`).

Data problems never fail the child (they are outcomes); only what a retry may fix (an AWS call that
kept failing) raises, so Step Functions retries it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from capi_writeback.contracts.syncs import ChildTask
from capi_writeback.flow import sending
from capi_writeback.flow.selection import profile_settings
from capi_writeback.flow.syncs.services import SyncServices, default_sync_services
from capi_writeback.observability import EVENTS_SENT, count, logger
from capi_writeback.rails.audit.log import iso_ms
from capi_writeback.syncs import outcomes as out
from capi_writeback.syncs.exceptions import RunNotFound

if TYPE_CHECKING:
    from capi_writeback.built import BuiltEvent
    from capi_writeback.meta.client import MetaClient
    from capi_writeback.meta.results import BatchResult
    from capi_writeback.syncs.ledger import KeyLedger

CHUNK_ROWS = 1000
GIVE_UP_AFTER = 3  # failed batches in a row: Meta is down, the next run will try again
TIME_MARGIN_SECONDS = 120  # stop reading this long before the invocation's deadline
LEASE_SECONDS = 900  # without a deadline (local tools): Lambda's longest invocation
MAX_PART_WARNINGS = 20
MAX_PART_TRACE_IDS = 100


@dataclasses.dataclass
class Part:
    """What one work item adds up to (its record in the run store)."""

    item: dict[str, Any]
    status: str = "done"
    rows_read: int = 0
    rows_new: int = 0
    events_sent: int = 0
    events_received: int = 0
    rejected: int = 0
    failed: int = 0
    failed_batches: int = 0
    skipped: Counter[str] = dataclasses.field(default_factory=Counter)
    quality: Counter[str] = dataclasses.field(default_factory=Counter)
    warnings: list[str] = dataclasses.field(default_factory=list)
    fbtrace_ids: list[str] = dataclasses.field(default_factory=list)
    error: dict[str, Any] | None = None

    def stop(self, status: str, message: str, **extra: Any) -> None:
        self.status = status
        self.error = {"message": message, **extra}

    def record(self, started_at: str, finished_at: str) -> dict[str, Any]:
        return {"item": self.item["item"], "key": self.item["key"], "part": self.item["part"],
                "parts": self.item["parts"], "status": self.status, "rows_read": self.rows_read,
                "rows_new": self.rows_new, "events_sent": self.events_sent,
                "events_received": self.events_received, "rejected": self.rejected, "failed": self.failed,
                "failed_batches": self.failed_batches, "skipped": dict(self.skipped),
                "match_quality": dict(self.quality), "warnings": self.warnings[:MAX_PART_WARNINGS],
                "fbtrace_ids": self.fbtrace_ids[:MAX_PART_TRACE_IDS], "error": self.error,
                "started_at": started_at, "finished_at": finished_at}


def process_item(task: ChildTask, deadline: float | None = None,
                 services: SyncServices | None = None) -> dict[str, Any]:
    """Stream one work item to Meta; its record (also written to the run store)."""
    services = services or default_sync_services()
    ref, item = task.run, task.item.model_dump()
    record = services.runs.get_run(ref.sync_id, ref.run_id)
    if record is None:
        raise RunNotFound()
    started_at = iso_ms(services.clock())
    part = Part(item)
    log = out.OutcomeLog(services.runs, ref.sync_id, ref.run_id, int(item["item"]))
    _Item(services, record, ref.sync_id, ref.run_id, part, log, deadline).run()
    log.flush()
    summary = part.record(started_at, iso_ms(services.clock()))
    services.runs.put_part(ref.sync_id, ref.run_id, summary)
    logger.info("sync item done", extra={k: summary[k] for k in (
        "item", "status", "rows_read", "rows_new", "events_sent", "events_received", "rejected", "failed")})
    return {k: summary[k] for k in ("item", "status", "rows_read", "rows_new", "events_sent",
                                    "events_received", "rejected", "failed")}


class _Item:
    """The work of one item (see the module docstring), run once."""

    def __init__(self, services: SyncServices, record: Mapping[str, Any], sync_id: str, run_id: str,
                 part: Part, log: out.OutcomeLog, deadline: float | None) -> None:
        self.services = services
        self.record = record
        self.sync_id, self.run_id = sync_id, run_id
        self.owner = f"{run_id}#{part.item['item']}"
        self.part = part
        self.log = log
        self.deadline = deadline
        self.live = record.get("mode") == "live"

    def run(self) -> None:
        from capi_writeback.events import stream_events
        from capi_writeback.rails.breaker.exceptions import CircuitOpen
        from capi_writeback.reading import HeaderNotUnderstood, read_rows
        from capi_writeback.syncs.mapping import SyncMapping

        services, part = self.services, self.part
        profile = services.base.directory.get_profile(str(self.record["profile_id"])) or {}
        connection = profile.get("connection") if isinstance(profile.get("connection"), Mapping) else {}
        if self.live:
            try:
                services.base.breaker.check(str(self.record["profile_id"]))
            except CircuitOpen as exc:
                part.stop("paused", "the profile's circuit breaker is open "
                                    f"(retry after {exc.retry_after} s)")
                return
        definition = self.record["definition"]
        mapping = SyncMapping.of(definition["mapping"], str(definition["primary_key"]))
        settings = dataclasses.replace(profile_settings(profile), column_mapping={})
        now = services.clock()
        client = services.base.meta(connection.get("api_version") if connection else None)
        sender = _Sender(self, client, connection or {})
        rows = read_rows(services.source.lines(part.item), part.item["format"],
                         column_mapping=mapping.header_columns())
        stream = stream_events(mapping.rows(rows), settings, now, chunk_size=CHUNK_ROWS, hash_payload=False,
                               samples=0)
        try:
            for chunk in stream:
                self._skipped(chunk.skipped)
                self._decide(chunk.events, sender)
                if sender.gave_up:
                    break
                if self.deadline is not None and services.clock() > self.deadline - TIME_MARGIN_SECONDS:
                    part.stop("cut_short", "the item ran out of time; its remaining rows are sent by the "
                                           "next run")
                    break
            sender.flush()
        except HeaderNotUnderstood as exc:
            part.stop("failed", str(exc))
        except Exception as exc:
            message = _source_problem(exc)
            if message is None:
                raise
            part.stop("failed", message)
        part.rows_read = stream.summary.rows
        part.warnings = [*mapping.notes.warnings(), *stream.summary.warnings]
        if sender.gave_up and part.status == "done":
            part.stop("failed", f"Meta failed {GIVE_UP_AFTER} batches in a row; the rest of this item is "
                                "sent by the next run", **(sender.last_error or {}))

    def _skipped(self, skipped: Sequence[Any]) -> None:
        for row in skipped:
            reason = str(getattr(row.reason, "value", row.reason))
            self.part.skipped[reason] += 1
            self.log.add(row.index, row.conversion_id, out.SKIPPED, reason, row.detail)

    def _decide(self, events: list[BuiltEvent], sender: _Sender) -> None:
        if not events:
            return
        ledger: KeyLedger = self.services.ledger
        ids = [e.conversion_id for e in events]
        if self.live:
            decision = ledger.claim(self.sync_id, self.owner, self.run_id, ids, self._lease_until())
        else:
            decision = ledger.unsent(self.sync_id, ids)
        part, log = self.part, self.log
        for position in decision.sent_before:
            part.skipped[out.ALREADY_SENT] += 1
            log.add(events[position].index, ids[position], out.SKIPPED, out.ALREADY_SENT,
                    "an earlier run sent this key")
        for position in decision.busy:
            part.skipped[out.IN_PROGRESS_ELSEWHERE] += 1
            log.add(events[position].index, ids[position], out.SKIPPED, out.IN_PROGRESS_ELSEWHERE,
                    "another run is sending this key; if it fails, a later run sends it")
        for position in decision.sent_by_owner:  # an earlier attempt of this item sent it
            part.rows_new += 1
            part.events_sent += 1
            part.events_received += 1
            part.quality[events[position].match_quality] += 1
            log.add(events[position].index, ids[position], out.SENT)
        fresh = [events[p] for p in decision.new]
        part.rows_new += len(fresh)
        sender.add(fresh)

    def _lease_until(self) -> float:
        now = self.services.clock()
        until = self.deadline if self.deadline is not None else now + LEASE_SECONDS
        return float(max(until, now + TIME_MARGIN_SECONDS))


class _Sender:
    """Sends new events in batches of 1,000, up to the client's concurrency at once, recording each
    batch's keys and outcomes as Meta answers it."""

    def __init__(self, work: _Item, client: MetaClient, connection: Mapping[str, Any]) -> None:
        self.work = work
        self.client = client
        self.connection = connection
        self.size = client.config.batch_size
        self.limit = max(1, client.config.concurrency) * self.size
        self.buffer: list[BuiltEvent] = []
        self.failures_in_a_row = 0
        self.gave_up = False
        self.last_error: dict[str, Any] | None = None

    def add(self, events: list[BuiltEvent]) -> None:
        self.buffer += events
        while len(self.buffer) >= self.limit and not self.gave_up:
            self._send(self.buffer[:self.limit])
            self.buffer = self.buffer[self.limit:]

    def flush(self) -> None:
        if self.buffer and not self.gave_up:
            self._send(self.buffer)
        if self.buffer and self.gave_up:  # claimed but never sent: release them for the next run
            self._failed(self.buffer, "META_UNAVAILABLE",
                         "not sent: Meta kept failing; the next run sends it")
        self.buffer = []

    def _send(self, events: list[BuiltEvent]) -> None:
        work = self.work
        code = work.record.get("test_event_code") if not work.live else None
        sent: set[int] = set()

        def on_batch(result: BatchResult) -> None:
            sent.add(result.index)
            self._record(events[result.index * self.size:(result.index + 1) * self.size], result)

        try:
            self.client.send(str(self.connection.get("pixel_id")), str(self.connection.get("secret_id")),
                             [e.event for e in events], test_event_code=str(code) if code else None,
                             on_batch=on_batch)
        except Exception as exc:
            if not sending.is_meta_error(exc):
                raise
            details = sending.meta_error_details(exc)  # e.g. the token cannot be read: nothing was sent
            self.last_error = details
            unsent = [e for i, e in enumerate(events) if i // self.size not in sent]
            self._failed(unsent, "META_REJECTED", str(details.get("message")))
            self.work.part.failed_batches += 1
            self.gave_up = True

    def _record(self, batch: list[BuiltEvent], result: BatchResult) -> None:
        work, part, log = self.work, self.work.part, self.work.log
        part.events_sent += len(batch)
        part.events_received += int(result.events_received or 0)
        part.fbtrace_ids.extend(result.fbtrace_ids[:MAX_PART_TRACE_IDS - len(part.fbtrace_ids)])
        status = result.status
        if status == "failed":
            summary = sending.batch_summary(result)
            error = summary.get("error") or {}
            self.last_error = {k: error[k] for k in ("code", "subcode", "fbtrace_id") if k in error}
            part.failed_batches += 1
            self.failures_in_a_row += 1
            self.gave_up = self.gave_up or self.failures_in_a_row >= GIVE_UP_AFTER
            reason = "META_UNAVAILABLE" if error.get("transient") else "META_REJECTED"
            self._failed(batch, reason, str(error.get("message") or "Meta did not accept the batch"))
            return
        self.failures_in_a_row = 0
        refused = {r.position: r for r in result.rejected}
        accepted = [e for i, e in enumerate(batch) if i not in refused]
        if work.live:
            work.services.ledger.mark_sent(work.sync_id, work.owner, work.run_id,
                                           [e.conversion_id for e in accepted])
        for built in accepted:
            part.quality[built.match_quality] += 1
            log.add(built.index, built.conversion_id, out.SENT)
        if refused:
            rejected = [batch[i] for i in sorted(refused)]
            if work.live:
                work.services.ledger.release(work.sync_id, work.owner, [e.conversion_id for e in rejected],
                                             "rejected by Meta")
            part.rejected += len(rejected)
            for position in sorted(refused):
                r = refused[position]
                code = (f"META_{r.code}" + (f"_{r.subcode}" if r.subcode else "")) if r.code \
                    else "META_REJECTED"
                log.add(batch[position].index, batch[position].conversion_id, out.REJECTED, code, r.message)
        if work.live:
            count(EVENTS_SENT, len(accepted))

    def _failed(self, events: list[BuiltEvent], reason: str, message: str) -> None:
        work = self.work
        if work.live:
            work.services.ledger.release(work.sync_id, work.owner, [e.conversion_id for e in events], reason)
        work.part.failed += len(events)
        for built in events:
            work.log.add(built.index, built.conversion_id, out.FAILED, reason, message)


def _source_problem(exc: BaseException) -> str | None:
    """What went wrong reading the source, when a retry cannot help (None: let it raise)."""
    from capi_writeback.syncs.aws import error_code

    code = error_code(exc)
    if code in ("PreconditionFailed", "412"):
        return "the object changed during the run (a new export replaced it); the next run reads the new one"
    if code in ("NoSuchKey", "404"):
        return "the object was deleted during the run"
    if code in ("AccessDenied", "403"):
        return "the sync's role may not read this object"
    if isinstance(exc, ValueError) and "header" in str(exc):
        return str(exc)
    return None
