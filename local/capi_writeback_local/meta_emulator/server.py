"""The Meta CAPI emulator: a strict local stand-in for `POST /{version}/{pixel_id}/events`, and for
the two Graph reads a sender makes around it: `GET /{version}/{pixel_id}` (is this token good for
this pixel?) and `GET /{version}/dataset_quality` (match quality of what was received; an
approximation, see `quality`).

A `ThreadingHTTPServer` speaking HTTP/1.1 keep-alive (one daemon thread per connection), so a
client's pooled connections are reused. It applies `rules` to every events request and `reads` to
every read, answers like Graph does, records every Graph request in a ledger (never a token), keeps
test events (with `test_event_code`) apart from live ones, and injects faults on demand into any
Graph request. Control endpoints live under `/_emulator/`.

Latency faults set a floor on the response time: an affected request is answered no sooner than
`latency_ms` after it arrived (the time spent parsing and validating counts toward it), like a remote
server whose answers take that long.

With `workers=N` (> 0) requests are judged by `rules.evaluate` in N spawned processes, so a busy
emulator uses more than one core; events are then decoded again only when someone reads them. As
with any spawned pool, a script starting it needs the `if __name__ == "__main__":` guard.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import quality, reads, rules
from .faults import Fault, FaultPlan, error_body
from .rules import Refusal, Strictness

DEDUP_WINDOW_SECONDS = 48 * 3600


def default_pixel_name(pixel_id: str) -> str:
    """The name `GET /{pixel_id}` answers for a pixel registered without one."""
    return f"Pixel {pixel_id}"


def _warm_up(_: int) -> None:
    """Runs once in each worker process so it is started and has imported the rules."""


class MetaEmulator:
    """Start with `.start()` (or `with MetaEmulator() as meta:`); point clients at `.url`.

    `pixel_ids` lists the known pixels, or maps each to the name `GET /{pixel_id}` answers.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] = ("test-token",),
        pixel_ids: Iterable[str] | Mapping[str, str] = ("1234567890",),
        *,
        app_secret: str | None = None,
        now: Callable[[], float] = time.time,
        strictness: Strictness | None = None,
        faults: Iterable[Fault] = (),
        seed: int | None = None,
        hang_seconds: float = 30.0,
        keep_events: bool = True,
        workers: int = 0,
    ) -> None:
        self.host = host
        self.port = port
        self.app_secret = app_secret
        self.now = now
        self.strictness = strictness or Strictness()
        self.hang_seconds = hang_seconds
        self.keep_events = keep_events
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._tokens = set(tokens)
        names = pixel_ids if isinstance(pixel_ids, Mapping) else {}
        self._pixels = {str(p): str(names.get(p) or default_pixel_name(str(p))) for p in pixel_ids}
        self._faults = FaultPlan(list(faults), seed=seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._in_flight = 0  # requests being answered now (survives reset)
        self._clear_state()

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> MetaEmulator:
        if self._server is not None:
            return self
        self._stopping.clear()
        if self.workers > 0:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
            list(self._pool.map(_warm_up, range(self.workers)))  # start them now, not on request one
        server = _Server((self.host, self.port), _Handler)
        server.emulator = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name="meta-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # releases requests held by "timeout" faults
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> MetaEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to use as META_BASE_URL (e.g. http://127.0.0.1:8123)."""
        return f"http://{self.host}:{self.port}"

    # -- configuration ----------------------------------------------------------------------------

    def add_token(self, token: str) -> None:
        with self._lock:
            self._tokens.add(token)

    def remove_token(self, token: str) -> None:
        with self._lock:
            self._tokens.discard(token)

    def add_pixel(self, pixel_id: str, name: str | None = None) -> None:
        with self._lock:
            self._pixels[pixel_id] = name or default_pixel_name(pixel_id)

    def inject(
        self,
        kind: str,
        *,
        count: int | None = None,
        fraction: float | None = None,
        latency_ms: float = 0.0,
        after: int = 0,
    ) -> Fault:
        """Add a fault (see faults.KINDS): for the next `count` requests, a `fraction`, or all;
        `after` lets that many requests through first."""
        fault = Fault(kind, count=count, fraction=fraction, latency_ms=latency_ms, after=after)
        self._faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        return self._faults.list()

    # -- what was received ------------------------------------------------------------------------

    def _clear_state(self) -> None:
        self._ledger: list[dict[str, Any]] = []
        self._accepted: list[_Accepted] = []
        self._max_in_flight = 0

    def reset(self) -> None:
        """Forget the ledger, received events, statistics and faults."""
        with self._lock:
            self._clear_state()
        self._faults.clear()

    def ledger(self) -> list[dict[str, Any]]:
        """Every Graph request: edge ("events", "node", "dataset_quality"), method, path, where the
        token was (token_source, token_in_url; never the token), pixel, test code, partner_agent,
        events, response status and body, fault."""
        with self._lock:
            entries = [dict(entry) for entry in self._ledger]
        for entry in entries:
            if isinstance(entry.get("events"), _Lazy):
                entry["events"] = entry["events"].events()
        return entries

    def received_events(
        self, pixel_id: str | None = None, test: bool = False, *, dedup: bool = False
    ) -> list[dict[str, Any]]:
        """Events Meta would have accepted, live or (test=True) test ones, in arrival order.

        `dedup=True` simulates Meta's reporting view (rule 13): a later event with the same
        (event_name, event_id) for the same pixel within 48 hours is left out.
        """
        with self._lock:
            batches = [b for b in self._accepted if bool(b.test_event_code) == test]
        rows = [
            (batch.pixel_id, event)
            for batch in batches
            if pixel_id is None or batch.pixel_id == pixel_id
            for event in batch.all_events()
        ]
        if not dedup:
            return [event for _pixel, event in rows]
        seen: dict[tuple[str, Any, Any], int] = {}
        kept = []
        for pixel, event in rows:
            key = (pixel, event.get("event_name"), event.get("event_id"))
            first = seen.get(key)
            event_time = int(event.get("event_time", 0))
            if event.get("event_id") is not None and first is not None and (
                abs(event_time - first) <= DEDUP_WINDOW_SECONDS
            ):
                continue
            seen.setdefault(key, event_time)
            kept.append(event)
        return kept

    def received_batches(self, pixel_id: str) -> list[quality.ReceivedBatch]:
        """The live (non-test) requests accepted for a pixel: receipt time, partner_agent, events."""
        with self._lock:
            batches = [b for b in self._accepted if b.pixel_id == pixel_id and not b.test_event_code]
        return [quality.ReceivedBatch(b.received_at, b.partner_agent, b.all_events()) for b in batches]

    def test_event_codes(self) -> list[str]:
        with self._lock:
            return sorted({str(b.test_event_code) for b in self._accepted if b.test_event_code})

    def stats(self) -> dict[str, int]:
        """Requests seen and the most requests ever in flight at once (for concurrency tests)."""
        with self._lock:
            return {"requests": len(self._ledger), "max_in_flight": self._max_in_flight}

    # -- request handling -------------------------------------------------------------------------

    def _graph_request(self, handler: _Handler, method: str, raw: bytes) -> tuple[int, bytes, str] | None:
        """Answer one Graph request; None means "do not answer" (a timeout fault)."""
        arrived = time.monotonic()
        split = urlsplit(handler.path)
        read_edge = reads.edge_of(method, split.path)
        entry: dict[str, Any] = {
            "edge": read_edge or "events",
            "method": method,
            "path": split.path,
            "token_in_url": "access_token" in parse_qs(split.query),
            "token_source": None,
            "pixel_id": None,
            "api_version": None,
            "test_event_code": None,
            "partner_agent": None,
            "event_count": None,
            "events": None,
            "status": None,
            "fault": None,
            "response": None,
            "received_at": self.now(),
        }
        with self._lock:  # recorded on arrival, so a request held by a timeout fault shows at once
            entry["seq"] = len(self._ledger)
            self._ledger.append(entry)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            decision = self._faults.decide()
            entry["fault"] = decision.kind
            if decision.kind == "timeout":
                self._stopping.wait(self.hang_seconds)
                answer = None
            elif decision.kind is not None:
                answer = error_body(decision.kind)
            else:
                try:
                    if read_edge is not None:
                        answer = self._judge_read(handler, split.path, split.query, entry)
                    else:
                        answer = self._judge_and_store(handler, method, split.query, raw, entry)
                except Exception as exc:  # a bug here must still answer, like Graph's code 1
                    internal = Refusal(1, f"emulator internal error: {type(exc).__name__}", status=500)
                    answer = 500, json.dumps(internal.envelope()).encode(), "application/json"
            wait = arrived + decision.latency_ms / 1000.0 - time.monotonic()
            if wait > 0:
                self._stopping.wait(wait)
            entry["status"] = answer[0] if answer else None
            if answer is not None:
                entry["response"] = json.loads(answer[1]) if answer[2] == "application/json" else None
            return answer
        finally:
            with self._lock:
                self._in_flight -= 1

    def _policy(self) -> rules.Policy:
        with self._lock:
            tokens, pixels = frozenset(self._tokens), frozenset(self._pixels)
        return rules.Policy(tokens, pixels, self.app_secret, self.strictness)

    def _judge_read(
        self, handler: _Handler, path: str, query: str, entry: dict[str, Any]
    ) -> tuple[int, bytes, str]:
        """A Graph read, answered in this process (it needs what was received)."""
        with self._lock:
            tokens, pixels = frozenset(self._tokens), dict(self._pixels)
        verdict = reads.evaluate_read(
            reads.ReadRequest(path, query, handler.headers.get("Authorization")),
            tokens=tokens, pixels=pixels, app_secret=self.app_secret, strictness=self.strictness,
            received=self.received_batches, now=self.now(),
        )
        entry.update(api_version=verdict.api_version, pixel_id=verdict.pixel_id,
                     token_source=verdict.token_source)
        return verdict.status, verdict.body, "application/json"

    def _judge_and_store(
        self, handler: _Handler, method: str, query: str, raw: bytes, entry: dict[str, Any]
    ) -> tuple[int, bytes, str]:
        inbound = rules.Inbound(
            method, urlsplit(handler.path).path, query, handler.headers.get("Content-Type", ""),
            handler.headers.get("Authorization"), raw,
        )
        now = self.now()
        if self._pool is not None:  # judged in a worker process; events decoded only when asked for
            verdict = self._pool.submit(rules.evaluate, inbound, self._policy(), now, False).result()
        else:
            verdict = rules.evaluate(inbound, self._policy(), now)
        entry.update(
            api_version=verdict.api_version,
            pixel_id=verdict.pixel_id,
            token_source=verdict.token_source,
            test_event_code=verdict.test_event_code,
            partner_agent=verdict.partner_agent,
            event_count=verdict.event_count,
        )
        if self.keep_events and verdict.event_count is not None:
            entry["events"] = verdict.events if verdict.events is not None else _Lazy(inbound)
        if verdict.status == 200:
            raw_copy = inbound if verdict.events is None else None  # keep raw bytes only when not parsed
            stored = _Accepted(str(verdict.pixel_id), verdict.test_event_code, verdict.events, raw_copy,
                               partner_agent=verdict.partner_agent, received_at=entry["received_at"])
            with self._lock:
                self._accepted.append(stored)
        return verdict.status, verdict.body, "application/json"

    def _control(self, method: str, path: str, query: str, raw: bytes) -> tuple[int, Any]:
        """The `/_emulator/` endpoints: faults, ledger, events, stats, tokens, reset."""
        name = path[len("/_emulator/") :].strip("/")
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            return 400, {"error": "body is not JSON"}
        params = {k: v[0] for k, v in parse_qs(query).items()}
        try:
            if name == "faults" and method == "GET":
                return 200, {"faults": self.faults()}
            if name == "faults" and method == "POST":
                items = payload.get("faults", [payload]) if isinstance(payload, dict) else payload
                for item in items:
                    self._faults.add(Fault.from_dict(item))
                return 200, {"faults": self.faults()}
            if name == "faults" and method == "DELETE":
                self.clear_faults()
                return 200, {"faults": []}
            if name == "ledger" and method == "GET":
                return 200, {"requests": self.ledger()}
            if name == "events" and method == "GET":
                test = params.get("test", "") in ("1", "true", "yes")
                return 200, {"events": self.received_events(params.get("pixel_id"), test=test)}
            if name == "stats" and method == "GET":
                return 200, self.stats()
            if name == "tokens" and method == "POST":
                for token in payload.get("add", []):
                    self.add_token(str(token))
                for token in payload.get("remove", []):
                    self.remove_token(str(token))
                return 200, {"tokens": len(self._tokens)}
            if name == "reset" and method == "POST":
                self.reset()
                return 200, {"reset": True}
        except (TypeError, ValueError, AttributeError) as exc:
            return 400, {"error": str(exc)}
        return 404, {"error": f"no control endpoint {method} /_emulator/{name}"}


class _Lazy:
    """Events of a request judged in a worker process, decoded from the raw body when read."""

    def __init__(self, inbound: rules.Inbound) -> None:
        self.inbound = inbound

    def events(self) -> list[dict[str, Any]]:
        return rules.decode_events(self.inbound)


@dataclass
class _Accepted:
    """One accepted request's events (parsed, or raw until first read)."""

    pixel_id: str
    test_event_code: str | None
    events: list[dict[str, Any]] | None
    inbound: rules.Inbound | None
    partner_agent: str | None = None
    received_at: float = 0.0

    def all_events(self) -> list[dict[str, Any]]:
        events = self.events
        if events is None:  # two readers may both decode; they get equal lists
            assert self.inbound is not None
            events = self.events = rules.decode_events(self.inbound)
        return events


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True
    emulator: MetaEmulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 120  # an idle keep-alive connection is closed after this long
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the ledger is the record (and request lines could carry a token in the query)."""

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self, method: str) -> None:
        raw = self._read_body()
        emulator = self.server.emulator
        split = urlsplit(self.path)
        if split.path.startswith("/_emulator/"):
            status, payload = emulator._control(method, split.path, split.query, raw)
            self._reply(status, json.dumps(payload).encode(), "application/json")
            return
        answer = emulator._graph_request(self, method, raw)
        if answer is None:
            self.close_connection = True
            return
        self._reply(*answer)

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self._handle("POST")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_DELETE(self) -> None:
        self._handle("DELETE")
