"""`make demo`: the whole story, over real HTTP on loopback, against the embedded stack.

The demo starts `LocalApi` (moto + the Meta emulator + the API Gateway stand-in + the HTTP server),
then plays the eight steps as an API user would: seed, store the shipped sample, preview
(and the same preview as an AI assistant asks for it, through the MCP endpoint), dry-run, confirm
(with a progress bar) and its replay (then one event sent now, and its replay), refusals with their
typed error and fix, a warehouse sync (a CSV export put into the embedded S3, a dry run, the switch
to live, a live run, and a run of a re-export that sends only its new rows), and the audit trail.
It only talks to the API over HTTP (and puts the export into the embedded S3, as `aws s3 cp` would);
it peeks at the emulator only to show what Meta received. Handler logs go to a log file so the
story stays readable.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from capi_writeback_local.data import load_sample
from capi_writeback_local.local_api import LocalApi

STORE_CHUNK = 1000  # rows per POST .../conversions (the API's limit)
SELECTION: dict[str, Any] = {"last_days": 30}  # wide enough to include stale rows, to show them skipped
TEST_EVENT_CODE = "TEST12345"
BATCH_LATENCY_MS = 300  # the emulator answers each batch this late, like a remote API
STEPS = 8
SYNC_ROWS = 150  # the first export of the demo's warehouse model; the re-export adds SYNC_NEW_ROWS
SYNC_NEW_ROWS = 30
SYNC_MAPPING = {"event_name": {"column": "event"}, "event_time": {"column": "ordered_at"},
                "em": {"column": "customer_email"}, "phone": {"column": "customer_phone"},
                "value": {"column": "amount"}, "currency": {"column": "currency"},
                "action_source": {"value": "system_generated"}}


class DemoFailed(Exception):
    """A step did not answer what the story needs (the demo then exits non-zero)."""


class ApiClient:
    """JSON over HTTP to the local API; never uses a proxy (everything is on 127.0.0.1)."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None
             ) -> tuple[int, dict[str, str], Any]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {token or self.token}")
        try:
            with self._opener.open(request, timeout=120) as response:
                return response.status, dict(response.headers.items()), json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers.items()), json.loads(exc.read() or b"null")


class Printer:
    """Readable output: headings, aligned tables, bars; colour only on a terminal."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.tty = out.isatty()

    def _c(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.tty else text

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def step(self, number: int, title: str) -> None:
        self.line()
        self.line(self._c("1;36", f"[{number}/{STEPS}] {title}"))

    def ok(self, text: str) -> None:
        self.line("  " + self._c("32", "✓ ") + text)

    def refused(self, text: str) -> None:
        self.line("  " + self._c("33", "✗ ") + text)

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]], indent: int = 2) -> None:
        cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
        pad = " " * indent

        def fmt(row: list[str]) -> str:
            return pad + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

        self.line(self._c("1", fmt(cells[0])))
        self.line(pad + "  ".join("-" * w for w in widths))
        for row in cells[1:]:
            self.line(fmt(row))

    def bar(self, done: int, total: int, width: int = 30, label: str = "") -> str:
        filled = int(width * done / total) if total else width
        return f"[{'#' * filled}{'.' * (width - filled)}] {done:>5}/{total} {label}"

    def progress(self, done: int, total: int, label: str = "") -> None:
        text = "  " + self.bar(done, total, label=label)
        if self.tty:
            self.out.write("\r" + text)
            self.out.flush()
        else:
            self.line(text)


def _expect(status: int, body: Any, wanted: int, what: str) -> Any:
    if status != wanted:
        raise DemoFailed(f"{what}: expected HTTP {wanted}, got {status}: {json.dumps(body)[:600]}")
    return body


def _error_type(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("type") or "")
    return str(error or "")


def _short(value: Any, width: int = 18) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


class Demo:
    """The story, one method per step; a step that gets an unexpected answer raises DemoFailed."""

    def __init__(self, api: LocalApi, printer: Printer) -> None:
        self.api = api
        self.p = printer
        self.client = ApiClient(api.url, api.seed.api_token)
        self.profile = f"/v1/profiles/{api.seed.profile_id}"
        self.preview_id: str | None = None
        self.event_count = 0
        self.readonly_token = ""
        self.key = "demo-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S")

    # 1 ----------------------------------------------------------------------------------------
    def seed(self) -> None:
        seed = self.api.seed
        self.p.step(1, "Seed a workspace (embedded AWS: moto on 127.0.0.1; Meta: local emulator)")
        self.readonly_token = self._add_token(scopes=("mcp:read",), user_id="analyst_demo")
        self.p.table(("what", "value"), [
            ("workspace", f"{seed.workspace_id} (write-back enabled)"),
            ("owner", seed.user_id),
            ("API token", f"{seed.api_token[:6]}… scopes mcp:read mcp:write (stored only as SHA-256)"),
            ("profile", f"{seed.profile_id} (country US, currency USD)"),
            ("Meta connection", f"pixel {seed.pixel_id}, active, token in Secrets Manager {seed.secret_id}"),
            ("API", f"{self.api.url}/v1 (docs at /v1/docs)"),
        ])

    def _add_token(self, *, scopes: Sequence[str], user_id: str) -> str:
        """A second, read-only token for the refusal in step 6 (same store the service reads)."""
        import secrets as _secrets

        from capi_writeback.auth import token_hash
        from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore

        token = "cwb_" + _secrets.token_urlsafe(24)
        directory = DynamoDirectoryStore()
        directory.put_member(self.api.seed.workspace_id, user_id, "admin")
        directory.put_token(token_hash(token), workspace_id=self.api.seed.workspace_id, user_id=user_id,
                            scopes=scopes, expires_at=time.time() + 3600)
        return token

    # 2 ----------------------------------------------------------------------------------------
    def store(self) -> None:
        rows = load_sample(time.time())
        self.p.step(2, f"Store {len(rows):,} sample conversions (messy PII, hashed on the way in)")
        stored, rejected = 0, []
        for start in range(0, len(rows), STORE_CHUNK):
            chunk = rows[start:start + STORE_CHUNK]
            status, _h, body = self.client.call("POST", f"{self.profile}/conversions", {"rows": chunk})
            body = _expect(status, body, 200, "store conversions")
            stored += body["stored"]
            rejected += body["rejected"]
            self.p.progress(start + len(chunk), len(rows), "rows stored")
        if self.p.tty:
            self.p.line()
        self.p.ok(f"{stored:,} rows stored; {len(rejected)} rejected at the door:")
        reasons = Counter(r["reason"] for r in rejected)
        self.p.table(("reason", "rows", "example"), [
            (reason, n, _short(next(r.get("detail") for r in rejected if r["reason"] == reason), 60))
            for reason, n in reasons.most_common()])

    # 3 ----------------------------------------------------------------------------------------
    def preview(self) -> None:
        self.p.step(3, f"Preview {json.dumps(SELECTION)}: build the events, send nothing")
        status, _h, body = self.client.call("POST", f"{self.profile}/writeback/preview", SELECTION)
        body = _expect(status, body, 200, "preview")
        self.preview_id = body["preview_id"]
        self.event_count = int(body["event_count"])
        self.p.ok(f"{self.event_count:,} events ready  (preview_id {body['preview_id']}, "
                  f"payload {body['payload_hash'][:19]}…)")
        self.p.line()
        self.p.table(("event", "count"), sorted(body["events_by_name"].items(), key=lambda kv: -kv[1]))
        self.p.line()
        quality = body["match_quality"]
        total = sum(quality.values()) or 1
        self.p.table(("match quality", "events", ""), [
            (name, quality.get(name, 0), "#" * round(40 * quality.get(name, 0) / total))
            for name in ("great", "good", "weak")])
        self.p.line()
        skipped = Counter(s["reason"] for s in body["skipped"])
        self.p.table(("skipped (not sent)", "rows", "example"), [
            (reason, n, _short(next(s.get("detail") for s in body["skipped"] if s["reason"] == reason), 60))
            for reason, n in skipped.most_common()])
        self.p.line()
        samples = body["sample_events"][:3]
        self.p.line(f"  The first {len(samples)} events exactly as they would be sent "
                    "(PII already SHA-256 hashed):")
        for n, event in enumerate(samples):
            if n == 0:
                for text in json.dumps(event, ensure_ascii=False, sort_keys=True, indent=2).splitlines():
                    self.p.line("    " + _short(text, 110))
            else:
                self.p.line("    " + _short(json.dumps(event, ensure_ascii=False, sort_keys=True), 110))
        if body.get("warnings"):
            self.p.line(f"  {len(body['warnings'])} warnings, e.g. {body['warnings'][0]}")
        self.p.line()
        arguments = {"mode": "preview", "outcome_types": ["appointment_booked"], "last_days": 7}
        self.p.line(f"  An AI assistant previews last week's bookings: one MCP tools/call to POST /v1/mcp, "
                    f"send_meta_conversions {json.dumps(arguments)}")
        result = self._mcp_call("send_meta_conversions", arguments)
        structured = result.get("structuredContent") or {}
        if result.get("isError") or structured.get("operation") != "preview":
            raise DemoFailed(f"MCP preview: {json.dumps(result)[:600]}")
        for line in result["content"][0]["text"].splitlines()[:4]:
            self.p.line("    " + _short(line, 110))
        self.p.ok(f"the tool answered {structured['event_count']:,} events as structured content (the HTTP "
                  "API's JSON) and this markdown for the assistant; nothing was sent")

    def _mcp_call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """One JSON-RPC `tools/call` in the current MCP protocol (stateless: no session, one POST)."""
        version = "2026-07-28"
        request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": tool, "arguments": arguments,
                              "_meta": {"io.modelcontextprotocol/protocolVersion": version,
                                        "io.modelcontextprotocol/clientCapabilities": {}}}}
        headers = {"Authorization": f"Bearer {self.api.seed.api_token}", "Content-Type": "application/json",
                   "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": version,
                   "Mcp-Method": "tools/call", "Mcp-Name": tool}
        http = urllib.request.Request(self.api.url + "/v1/mcp", data=json.dumps(request).encode(),
                                      method="POST", headers=headers)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(http, timeout=120) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return dict(answer.get("result") or {"isError": True, "error": answer.get("error")})

    # 4 ----------------------------------------------------------------------------------------
    def dry_run(self) -> None:
        self.p.step(4, f"Dry-run with test_event_code {TEST_EVENT_CODE}: Meta validates, nothing counts")
        request = {**SELECTION, "test_event_code": TEST_EVENT_CODE, "preview_id": self.preview_id}
        status, _h, body = self.client.call("POST", f"{self.profile}/writeback/dry-run", request)
        body = _expect(status, body, 200, "dry-run")
        self.p.ok(f"Meta received {body['events_received']:,} of {body['event_count']:,} test events")
        self.p.table(("fbtrace_id",), [(t,) for t in body["fbtrace_ids"]])
        live = len(self.api.emulator.received_events(test=False))
        self.p.line(f"  emulator: {len(self.api.emulator.received_events(test=True)):,} test events kept "
                    f"apart, {live} live events")

    # 5 ----------------------------------------------------------------------------------------
    def confirm(self) -> None:
        self.p.step(5, f"Confirm with idempotency_key {self.key}, then the same confirm again; one event now")
        request = {**SELECTION, "idempotency_key": self.key, "preview_id": self.preview_id}
        emulator = self.api.emulator
        emulator.inject("latency", latency_ms=BATCH_LATENCY_MS)
        result: dict[str, Any] = {}

        def send() -> None:
            result["answer"] = self.client.call("POST", f"{self.profile}/writeback/confirm", request)

        sender = threading.Thread(target=send, name="demo-confirm")
        sender.start()
        shown = -1
        while sender.is_alive():
            received = len(emulator.received_events())
            if received != shown:
                self.p.progress(received, self.event_count, "events accepted by Meta")
                shown = received
            time.sleep(0.05)
        sender.join()
        emulator.clear_faults()
        received = len(emulator.received_events())
        if received != shown:
            self.p.progress(received, self.event_count, "events accepted by Meta")
        if self.p.tty:
            self.p.line()
        status, _h, body = result["answer"]
        body = _expect(status, body, 200, "confirm")
        self.p.ok(f"status {body['status']}: {body['events_received']:,} events received, "
                  f"replayed={str(body['replayed']).lower()}")
        self.p.table(("batch", "events", "received", "status", "fbtrace_id"), [
            (b["index"], b["event_count"], b["events_received"], b["status"], b.get("fbtrace_id"))
            for b in body["batches"]])
        before = len(emulator.received_events())
        status, _h, again = self.client.call("POST", f"{self.profile}/writeback/confirm", request)
        again = _expect(status, again, 200, "replayed confirm")
        resent = len(emulator.received_events()) - before
        if not again.get("replayed") or resent:
            raise DemoFailed(f"not a replay: replayed={again.get('replayed')}, resent={resent}")
        self.p.ok(f"same key again → replayed=true, status {again['status']}, {resent} events resent to Meta")
        self.send_one()

    def send_one(self) -> None:
        """SPEC §8: one event sent now, as a backend forwards a Pixel event; then the same again."""
        self.p.line()
        self.p.line("  One event sent now (POST .../events), as a shop's backend forwards a Pixel event:")
        event = {"event_name": "Purchase", "event_time": int(time.time()) - 30, "action_source": "website",
                 "event_source_url": "https://shop.example.com/checkout/thanks",
                 "event_id": f"{self.key}-order-1",
                 "user_data": {"email": " Jane.Doe@Example.com ", "phone": "+1 (415) 555-0123",
                               "client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0"},
                 "custom_data": {"value": 49.9, "currency": "USD"}}
        emulator = self.api.emulator
        before = emulator.stats()["requests"]
        status, _h, body = self.client.call("POST", f"{self.profile}/events", event)
        body = _expect(status, body, 200, "send one event")
        self.p.ok(f"{body['event_name']} {body['event_id']}: Meta received {body['events_received']}, "
                  f"match quality {body['match_quality']}, replayed={str(body['replayed']).lower()}")
        user_data = json.dumps(body["event"]["user_data"], sort_keys=True)
        self.p.line(f"    user_data as sent: {_short(user_data, 100)}")
        sent = emulator.stats()["requests"] - before
        status, _h, again = self.client.call("POST", f"{self.profile}/events", event)
        again = _expect(status, again, 200, "the same event again")
        resent = emulator.stats()["requests"] - before - sent
        if not again.get("replayed") or resent:
            raise DemoFailed(f"not a replay: replayed={again.get('replayed')}, resent={resent}")
        self.p.ok(f"the same event again → replayed=true, Meta was called {resent} times (even after Meta's "
                  "48-hour dedup window, for 7 days)")

    # 6 ----------------------------------------------------------------------------------------
    def refusals(self) -> None:
        self.p.step(6, "Refusals: typed errors with a fix")
        self.p.line("  a) a token with only mcp:read tries to confirm:")
        status, _h, body = self.client.call("POST", f"{self.profile}/writeback/confirm",
                                            {**SELECTION, "idempotency_key": "readonly-1"},
                                            token=self.readonly_token)
        self._show_error(status, body, "MISSING_SCOPE")
        self.p.line("  b) the same idempotency key with a different payload:")
        status, _h, body = self.client.call("POST", f"{self.profile}/writeback/confirm",
                                            {"last_days": 3, "idempotency_key": self.key})
        self._show_error(status, body, "IDEMPOTENCY_KEY_REUSED")
        self.p.line("  c) Meta starts rejecting the access token (injected code 190); three confirms fail:")
        emulator = self.api.emulator
        emulator.inject("code_190")
        rows = [r for r in load_sample(time.time())
                if r.get("outcome_type") == "lead_created" and r.get("email")][:5]
        try:
            for attempt in range(1, 4):
                request = {"rows": rows, "idempotency_key": f"{self.key}-retry{attempt}"}
                status, _h, body = self.client.call("POST", f"{self.profile}/writeback/confirm", request)
                error = (body or {}).get("error") or {}
                meta = (error.get("details") or {}) if isinstance(error.get("details"), dict) else {}
                self.p.refused(f"confirm #{attempt}: HTTP {status} {error.get('type')} "
                               f"{_short(meta.get('message') or error.get('message'), 70)}")
                if status < 400:
                    raise DemoFailed(f"confirm #{attempt} under injected failures answered {status}")
            requests_before = emulator.stats()["requests"]
            status, headers, body = self.client.call("POST", f"{self.profile}/writeback/confirm",
                                                     {"rows": rows, "idempotency_key": f"{self.key}-retry4"})
            self._show_error(status, body, "CIRCUIT_OPEN")
            called = emulator.stats()["requests"] - requests_before
            self.p.line(f"     Retry-After: {headers.get('Retry-After')} s; Meta was called {called} times")
        finally:
            emulator.clear_faults()
        status, _h, body = self.client.call("POST", f"{self.profile}/writeback/breaker/reset", {})
        body = _expect(status, body, 200, "breaker reset")
        self.p.ok(f"an owner resets the breaker (audited): breaker {body.get('breaker', 'closed')}")

    def _show_error(self, status: int, body: Any, wanted: str) -> None:
        error = (body or {}).get("error") or {}
        if error.get("type") != wanted:
            raise DemoFailed(f"expected {wanted}, got HTTP {status}: {json.dumps(body)[:600]}")
        self.p.refused(f"HTTP {status} {error['type']}: {error['message']}")
        self.p.line(f"     fix: {error['fix']}")

    # 7 ----------------------------------------------------------------------------------------
    def sync(self) -> None:
        self.p.step(7, "A warehouse sync: CSV export in S3 → dry run → live → a re-export sends only "
                       "new rows")
        stack = self.api.stack
        s3, bucket = stack.client("s3"), stack.sync_env["SYNC_EXPORT_BUCKET"]
        s3.put_object(Bucket=bucket, Key="orders/export.csv", Body=_export_csv(SYNC_ROWS))
        self.p.line(f"  the model's export: {SYNC_ROWS} rows in s3://{bucket}/orders/export.csv "
                    f"(aws --endpoint-url {stack.endpoint_url} s3 cp ... does the same)")
        body = {"name": "Orders from the warehouse", "primary_key": "order_id", "mapping": SYNC_MAPPING,
                "source": {"type": "s3", "uri": f"s3://{bucket}/orders/", "format": "csv"},
                "schedule": "rate(15 minutes)", "test_event_code": TEST_EVENT_CODE}
        status, _h, created = self.client.call("POST", f"{self.profile}/syncs", body)
        created = _expect(status, created, 201, "create a sync")
        sync_path = f"{self.profile}/syncs/{created['sync_id']}"
        self.p.ok(f"sync {created['sync_id']} saved in mode {created['mode']}, scheduled "
                  f"{created['schedule']} (EventBridge Scheduler; moto never fires it: runs start on demand)")
        reports = [("dry run", self._sync_run(sync_path))]
        status, _h, changed = self.client.call("PATCH", sync_path, {"mode": "live"})
        _expect(status, changed, 200, "switch the sync to live")
        self.p.ok("an owner read the dry-run report and switched the sync to live")
        live_before = len(self.api.emulator.received_events())
        reports.append(("live", self._sync_run(sync_path)))
        s3.put_object(Bucket=bucket, Key="orders/export.csv", Body=_export_csv(SYNC_ROWS + SYNC_NEW_ROWS))
        reports.append(("re-export", self._sync_run(sync_path)))
        self.p.table(("run", "mode", "status", "rows read", "new", "sent", "received", "skipped"), [
            (name, r["mode"], r["status"], r["rows_read"], r["rows_new"], r["events_sent"],
             r["events_received"], ", ".join(f"{k} {v}" for k, v in r["skipped"].items()) or "-")
            for name, r in reports])
        sent = self.api.emulator.received_events()[live_before:]
        if len(sent) != SYNC_ROWS + SYNC_NEW_ROWS or len({e["event_id"] for e in sent}) != len(sent):
            raise DemoFailed(f"the sync sent {len(sent)} live events, not each of the "
                             f"{SYNC_ROWS + SYNC_NEW_ROWS} keys once")
        self.p.ok(f"Meta received {len(sent)} live events from the sync: each key once "
                  "(insert-only ledger)")

    def _sync_run(self, sync_path: str) -> dict[str, Any]:
        status, _h, started = self.client.call("POST", f"{sync_path}/runs")
        started = _expect(status, started, 202, "start a sync run")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status, _h, report = self.client.call("GET", f"{sync_path}/runs/{started['run_id']}")
            report = _expect(status, report, 200, "read the run report")
            if report["status"] != "running":
                if report["status"] != "succeeded":
                    raise DemoFailed(f"sync run {report['status']}: {json.dumps(report)[:600]}")
                return dict(report)
            time.sleep(0.1)
        raise DemoFailed("the sync run did not finish within 90 s")

    # 8 ----------------------------------------------------------------------------------------
    def audit(self) -> None:
        self.p.step(8, "The audit trail (append-only; newest first)")
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = "?limit=50" + (f"&next={cursor}" if cursor else "")
            status, _h, body = self.client.call("GET", f"{self.profile}/writeback/audit{query}")
            body = _expect(status, body, 200, "audit")
            items += body["items"]
            cursor = body.get("next")
            if not cursor:
                break
        headers = ("time (UTC)", "operation", "via", "actor", "status", "events", "key", "error", "fbtrace")
        self.p.table(headers, [
            (str(i.get("created_at", ""))[11:23], i.get("operation"), i.get("via"), i.get("actor"),
             i.get("status"),
             i.get("event_count"), _short(i.get("idempotency_key") or "", 26),
             _error_type(i.get("error")),
             _short(",".join(i.get("fbtrace_ids") or []), 14))
            for i in items])
        self.p.ok(f"{len(items)} audit rows; no raw email, phone or token in any of them")
        raw = json.dumps(items)
        if self.api.seed.api_token in raw or "@example" in raw.lower():
            raise DemoFailed("the audit trail holds a token or a raw email")

    def run(self) -> None:
        self.seed()
        self.store()
        self.preview()
        self.dry_run()
        self.confirm()
        self.refusals()
        self.sync()
        self.audit()


def _export_csv(count: int) -> bytes:
    """The demo warehouse model's export: recent purchases, the model's own column names."""
    now = int(time.time())
    lines = ["order_id,event,ordered_at,customer_email,customer_phone,amount,currency"]
    lines += [f"wh-{i:05d},Purchase,{now - 600 - 60 * i},shopper.{i}@example.com,+1 415 555 {i % 10000:04d},"
              f"{20 + i % 50}.90,USD" for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


def run_demo(out: IO[str], log: IO[str], *, make_api: Callable[[], LocalApi] | None = None) -> int:
    """Play the demo to `out`; handler logs (stdout of the functions) go to `log`. Returns the exit code."""
    printer = Printer(out)
    started = time.monotonic()
    saved_stdout = sys.stdout
    sys.stdout = log  # Powertools logs and EMF metrics print to stdout
    try:
        with (make_api or (lambda: LocalApi(environment={"META_CONCURRENCY": "1"})))() as api:
            printer.line(f"capi-writeback demo: API {api.url}, Meta emulator {api.emulator.url}")
            Demo(api, printer).run()
    except DemoFailed as exc:
        printer.line(f"\ndemo failed: {exc}")
        return 1
    finally:
        sys.stdout = saved_stdout
    printer.line()
    printer.line(f"Done in {time.monotonic() - started:.1f} s. Everything stopped; nothing left running.")
    return 0
