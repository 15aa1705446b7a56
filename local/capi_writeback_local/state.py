"""`serve --state DIR`: the embedded AWS stack's data kept across restarts, a crash included.

Write-through, not a dump at exit: every request the embedded moto server accepts that changes
something, whatever the service (DynamoDB, Secrets Manager, S3, Scheduler...), is appended to
`DIR/aws-requests.journal` and fsync'ed BEFORE its answer leaves the server. At start the journal is
replayed, in order, into a fresh moto before anything is served. So whatever a caller was told
succeeded (a ledger record, a recorded batch, an audit row, a token) survives a SIGKILL; a request
that was cut off was never answered, and its caller retries it.

Why a journal of requests rather than persistent backends: it keeps the embedded stack exactly
moto (the code under test talks to the same emulated AWS with or without --state), and it covers
every service other parts of the project add without knowing them. Reads are not journaled
(GetItem, Query, Describe*, List*, GET/HEAD on REST services, ...); neither are moto's own
`/moto-api/` controls; nor are Step Functions executions (StartExecution and the task callbacks):
replaying one would run a sync again, so a run that was going when the process died is ended as
failed at the next start instead (`end_interrupted_runs`), and its unsent keys go to the next run.
Mutating requests are applied and journaled one at a time, in the order moto applied them; reads
run alongside.

Each record is length + CRC32 + JSON (the request's method, path, query, headers, base64 body). A
record torn by a crash (short or failing its CRC) was never acknowledged: it and anything after it
are cut off when the journal is opened. DIR/lock keeps a second server off the same state. The
journal is readable by its owner only: it holds what the emulated AWS holds (the demo connection's
Meta token in its secret; conversion rows, already hashed).
Limits: the journal only grows (50,000 stored rows: ~44 MB, replayed in ~20 s); a request that makes
other AWS requests to the same stack while it is served (a synchronous Lambda invoke) would wait
for itself: nothing the served API does.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from io import BytesIO
from pathlib import Path
from typing import IO, Any

JOURNAL = "aws-requests.journal"
LOCK = "lock"
_HEADER = struct.Struct(">II")  # payload length, CRC32 of the payload
_READ_PREFIXES = ("Get", "BatchGet", "Describe", "List", "Query", "Scan", "TransactGet", "Head", "Select")
_NOT_JOURNALED = ("StartExecution", "StartSyncExecution", "StopExecution", "RedriveExecution",
                  "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat")
_KEPT_ENVIRON = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE")
_PRESERVED_NAMES = "werkzeug.preserved_header_names"  # moto keeps underscored header names here

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class StateInUse(RuntimeError):
    """Another server holds this state directory."""


class Journal:
    """The append-only, fsync'ed request journal of one state directory."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / JOURNAL
        self._lock_file: IO[bytes] | None = None
        self._file: IO[bytes] | None = None
        self._write = threading.Lock()

    def open(self) -> Journal:
        """Lock the directory (StateInUse if another server has it) and cut off a torn tail."""
        lock = (self.directory / LOCK).open("ab")
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise StateInUse(f"{self.directory} is in use by another capi-writeback serve") from None
        self._lock_file = lock
        good = sum(_HEADER.size + len(payload) for payload in _payloads(self.path))
        # owner-only: it holds what the emulated AWS holds (the Meta token's secret, hashed rows)
        self._file = os.fdopen(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")
        if self._file.tell() != good:
            self._file.truncate(good)  # a record torn by a crash: never acknowledged
            os.fsync(self._file.fileno())
        _fsync_directory(self.directory)
        return self

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None

    def records(self) -> Iterator[dict[str, Any]]:
        """The journaled requests, oldest first."""
        for payload in _payloads(self.path):
            yield json.loads(payload)

    def append(self, record: dict[str, Any]) -> None:
        """Write one request and fsync it: when this returns, it survives a crash."""
        if self._file is None:
            raise RuntimeError("the journal is not open")
        payload = json.dumps(record, separators=(",", ":")).encode()
        with self._write:
            self._file.write(_HEADER.pack(len(payload), zlib.crc32(payload)) + payload)
            self._file.flush()
            os.fsync(self._file.fileno())

    def clear(self) -> None:
        """Forget everything (the stack was reset)."""
        if self._file is None:
            raise RuntimeError("the journal is not open")
        with self._write:
            self._file.truncate(0)
            self._file.seek(0)
            os.fsync(self._file.fileno())

    def __len__(self) -> int:
        return sum(1 for _ in _payloads(self.path))


def _payloads(path: Path) -> Iterator[bytes]:
    if not path.exists():
        return
    with path.open("rb") as file:
        while True:
            header = file.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return
            length, crc = _HEADER.unpack(header)
            payload = file.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return
            yield payload


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def is_read(environ: dict[str, Any]) -> bool:
    """True for a request that is not journaled: one that changes nothing, by its action name
    (X-Amz-Target or Action=) or, for REST services, its method; moto's /moto-api/ controls; a Step
    Functions execution (see the module's docstring)."""
    path = str(environ.get("PATH_INFO") or "")
    if path.startswith("/moto-api"):
        return True
    target = environ.get("HTTP_X_AMZ_TARGET")
    action = str(target).rsplit(".", 1)[-1] if target else _query_action(environ)
    if action:
        return action.startswith(_READ_PREFIXES) or action in _NOT_JOURNALED
    return str(environ.get("REQUEST_METHOD", "GET")).upper() in ("GET", "HEAD", "OPTIONS")


def _query_action(environ: dict[str, Any]) -> str | None:
    from urllib.parse import parse_qs

    found = parse_qs(str(environ.get("QUERY_STRING") or "")).get("Action")
    if found:
        return found[0]
    body = environ.get("_capi_body")
    if isinstance(body, bytes) and b"Action=" in body and str(environ.get("CONTENT_TYPE", "")).startswith(
            "application/x-www-form-urlencoded"):
        found = parse_qs(body.decode("utf-8", "replace")).get("Action")
        return found[0] if found else None
    return None


class JournalingApp:
    """WSGI middleware around moto's app: mutating requests are applied one at a time and journaled
    (fsync'ed) before their answer is returned; `replay` applies a journal without journaling it."""

    def __init__(self, app: WsgiApp, journal: Journal) -> None:
        self.app = app
        self.journal = journal
        self._apply = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = _read_body(environ)
        environ["_capi_body"] = body
        if is_read(environ):
            return self.app(environ, start_response)
        with self._apply:
            status, headers, chunks = _run(self.app, environ)
            if status.startswith("2"):
                self.journal.append(_record(environ, body))
        start_response(status, headers)
        return chunks

    def replay(self) -> tuple[int, int]:
        """Apply every journaled request to the (fresh) app, in order: (applied, refused). A refusal
        means the state diverged from what the journal says (it should not happen)."""
        applied = refused = 0
        for record in self.journal.records():
            status, _headers, _chunks = _run(self.app, _environ(record))
            if status.startswith("2"):
                applied += 1
            else:
                refused += 1
        return applied, refused


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, read once and put back as a plain stream with its length."""
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH")
    if stream is None:
        body = b""
    elif length not in (None, ""):
        body = stream.read(int(length)) if int(length) > 0 else b""
    else:  # chunked: werkzeug ends the stream at the end of the body
        body = stream.read() if environ.get("wsgi.input_terminated") else b""
    environ["wsgi.input"] = BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return body


def _run(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer["status"], answer["headers"] = status, headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        chunks = [bytes(chunk) for chunk in result]
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return str(answer.get("status", "500 INTERNAL SERVER ERROR")), list(answer.get("headers", [])), chunks


def _record(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    kept = {key: environ[key] for key in _KEPT_ENVIRON if isinstance(environ.get(key), str)}
    kept.update({key: value for key, value in environ.items()
                 if key.startswith("HTTP_") and isinstance(value, str)})
    preserved = environ.get(_PRESERVED_NAMES)
    return {"environ": kept, "preserved": dict(preserved) if isinstance(preserved, dict) else None,
            "body": base64.b64encode(body).decode("ascii")}


def _environ(record: dict[str, Any]) -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    saved = dict(record["environ"])
    body = base64.b64decode(record["body"])
    builder = EnvironBuilder(method=saved.get("REQUEST_METHOD", "POST"), path=saved.get("PATH_INFO", "/"),
                             query_string=saved.get("QUERY_STRING", ""), data=body)
    try:
        environ: dict[str, Any] = builder.get_environ()
    finally:
        builder.close()
    environ.update(saved)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ["wsgi.input"] = BytesIO(body)
    environ["_capi_body"] = body
    if record.get("preserved"):
        environ[_PRESERVED_NAMES] = dict(record["preserved"])
    return environ


def expire_dead_leases(dynamodb: Any, table: str, now: float) -> int:
    """After a restart, the confirms that were running died with the previous process: end their
    leases now, so a retry with the same key resumes at once instead of waiting up to 15 minutes
    (what a crashed Lambda's key waits in AWS). Only confirm records (`confirm#...`); each is one
    conditional update on the owner it had; the number ended."""
    from capi_writeback.rails.idempotency.persistence.base import IN_PROGRESS

    ended = 0
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table, FilterExpression="#status = :running AND begins_with(id, :confirm)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":running": {"S": IN_PROGRESS}, ":confirm": {"S": "confirm#"}})
    for page in pages:
        for item in page.get("Items", []):
            with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
                dynamodb.update_item(
                    TableName=table, Key={"id": item["id"]}, UpdateExpression="SET lease_expires_at = :now",
                    ConditionExpression="#owner = :owner AND #status = :running",
                    ExpressionAttributeNames={"#owner": "owner", "#status": "status"},
                    ExpressionAttributeValues={":now": {"N": repr(float(now))}, ":owner": item["owner"],
                                               ":running": {"S": IN_PROGRESS}})
                ended += 1
    return ended


def end_interrupted_runs(dynamodb: Any, tables: dict[str, str], now: float) -> int:
    """After a restart, the sync runs that were running died with the previous process (their
    executions are not replayed): end them as failed and free their syncs for the next run. Their
    claimed keys are retaken by a later run once the claims' leases lapse. The number ended."""
    from capi_writeback.flow.syncs.finish import last_run_of
    from capi_writeback.rails.audit.log import iso_ms
    from capi_writeback.syncs.persistence.dynamodb import DynamoRunStore, DynamoSyncStore

    runs = DynamoRunStore(tables["SYNC_RUNS_TABLE"], client=dynamodb)
    syncs = DynamoSyncStore(tables["SYNCS_TABLE"], client=dynamodb)
    ended = 0
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=tables["SYNC_RUNS_TABLE"], FilterExpression="#status = :running",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":running": {"S": "running"}},
        ProjectionExpression="sync_id, run_id, profile_id")
    for page in pages:
        for item in page.get("Items", []):
            sync_id, run_id = item["sync_id"]["S"], item["run_id"]["S"]
            if runs.update_run(sync_id, run_id, {
                    "status": "failed", "finished_at": iso_ms(now),
                    "error": {"type": "INTERNAL",
                              "message": "the local stack stopped during the run; start another run"}},
                    only_status="running"):
                ended += 1
            record = runs.get_run(sync_id, run_id)
            if record is not None and "profile_id" in item:
                syncs.record_last_run(item["profile_id"]["S"], sync_id, last_run_of(record))
                syncs.unlock_run(item["profile_id"]["S"], sync_id, run_id)
    return ended
