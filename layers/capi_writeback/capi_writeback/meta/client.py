"""The Meta Conversions API client: `POST /{version}/{pixel_id}/events`, safely.

- The access token travels in the JSON body only (never in a URL, a log line or an exception), with
  `appsecret_proof` when the connection has an app secret.
- Batches of at most 1,000 events go out concurrently on a bounded pool; results come back in batch
  order. `on_batch` and `progress` run on the caller's thread, one at a time, as batches finish, so the
  caller may write progress to DynamoDB from them; if `on_batch` raises, no further batch is started
  and the exception propagates (batches already in flight finish first).
- Transient failures are retried per `RetryPolicy`; a 190 makes the client refetch the secret once and
  retry with the new token if it changed.
- A whole-batch code-100 rejection is bisected: every valid event is still sent exactly once and each
  bad event is reported with Meta's message, at about log2(batch) (at most 2·log2) extra calls per bad
  event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import urllib3

from .config import MetaClientConfig
from .credentials import CredentialSource, MetaCredentials, SecretsManagerCredentials
from .errors import (
    AUTH_CODES,
    MetaAuthError,
    MetaError,
    MetaRejectedError,
    MetaUnavailableError,
    parse_error_body,
)
from .results import BatchResult, RejectedEvent

__all__ = ["BatchResult", "MetaClient", "RejectedEvent"]

logger = logging.getLogger("capi_writeback.meta")

OnBatch = Callable[[BatchResult], None]
Progress = Callable[[int, int], None]


def appsecret_proof(credentials: MetaCredentials) -> str | None:
    """HMAC-SHA256 of the token keyed by the app secret (CAPI-REFERENCE §1.3), or None without one."""
    if not credentials.app_secret:
        return None
    return hmac.new(
        credentials.app_secret.encode(), credentials.access_token.encode(), hashlib.sha256
    ).hexdigest()


class _Token:
    """The token of one send, shared by its batch threads; refetched at most once per 190 wave."""

    def __init__(self, source: CredentialSource, secret_id: str) -> None:
        self._source = source
        self._secret_id = secret_id
        self._lock = threading.Lock()
        self._generation = 0
        self._credentials = source.get(secret_id)

    def current(self) -> tuple[MetaCredentials, int]:
        with self._lock:
            return self._credentials, self._generation

    def refresh(self, seen_generation: int) -> tuple[MetaCredentials, int]:
        """Refetch after a 190, unless another thread already did since `seen_generation`."""
        with self._lock:
            if self._generation == seen_generation:
                self._source.invalidate(self._secret_id)
                self._credentials = self._source.get(self._secret_id)
                self._generation += 1
            return self._credentials, self._generation


_ENCODE_CHUNK = 50


def _json_number(value: Any) -> Any:
    """Decimals (what DynamoDB gives back for numbers) as JSON numbers; anything else is an error."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"an event holds a {type(value).__name__}, which JSON cannot carry")


def encode_events(events: Sequence[dict[str, Any]]) -> bytes:
    """The JSON of a list of events, as sent in the body's `data` (compact, UTF-8).

    Encoded in chunks: one json.dumps call holds the GIL throughout, and a whole 1,000-event batch
    would stall the sender threads (which only need the GIL briefly) for milliseconds at a time.
    """
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_number).encode
    chunks = [encode(list(events[i : i + _ENCODE_CHUNK]))[1:-1] for i in range(0, len(events), _ENCODE_CHUNK)]
    return ("[" + ",".join(c for c in chunks if c) + "]").encode()


class _Prefetch:
    """Encodes batches on one helper thread, `ahead` batches in front of the senders.

    JSON-encoding a 1,000-event batch costs a few ms of CPU; done here it overlaps the senders' wait
    for Meta instead of delaying each request. At most about `ahead` + concurrency encoded bodies exist.
    """

    def __init__(
        self, encoder: ThreadPoolExecutor, batches: Sequence[Sequence[dict[str, Any]]], ahead: int
    ) -> None:
        self._encoder = encoder
        self._batches = batches
        self._ahead = ahead
        self._futures: dict[int, Future[bytes]] = {}
        self._submitted = 0
        self._lock = threading.Lock()
        self._fill(ahead)

    def _fill(self, upto: int) -> None:
        while self._submitted < min(upto, len(self._batches)):
            position = self._submitted
            self._futures[position] = self._encoder.submit(encode_events, self._batches[position])
            self._submitted += 1

    def take(self, position: int) -> bytes:
        """The encoded batch at `position`; also queues the encoding of the ones after it."""
        with self._lock:
            self._fill(position + self._ahead + 1)
            future = self._futures.pop(position)
        return future.result()


@dataclass
class _Send:
    """What every request of one `send` shares."""

    url: str
    token: _Token
    test_event_code: str | None


class _BisectionAborted(Exception):
    def __init__(self, error: MetaError) -> None:
        super().__init__(str(error))
        self.error = error


class MetaClient:
    """Sends events to one Graph API endpoint. One instance per process: it owns the connection pool."""

    def __init__(
        self,
        config: MetaClientConfig | None = None,
        credentials: CredentialSource | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or MetaClientConfig.from_env()
        self.credentials: CredentialSource = credentials or SecretsManagerCredentials()
        self.policy = self.config.retry_policy
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        self._http = urllib3.PoolManager(
            num_pools=4,
            maxsize=max(self.config.concurrency, 1),
            block=False,
            retries=False,
            timeout=urllib3.Timeout(connect=self.config.connect_timeout, read=self.config.read_timeout),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.clear()

    def send(
        self,
        pixel_id: str,
        secret_id: str,
        events: Sequence[dict[str, Any]],
        *,
        test_event_code: str | None = None,
        only_batches: Collection[int] | None = None,
        on_batch: OnBatch | None = None,
        progress: Progress | None = None,
    ) -> list[BatchResult]:
        """Send `events` in batches events[i*1000:(i+1)*1000]; results in batch order.

        `only_batches` limits which batch indices are sent (others are not sent and have no result).
        Per-batch failures are reported in `BatchResult.error`, not raised; a missing or unreadable
        secret raises `CredentialsError` (a `MetaAuthError`) before anything is sent.
        """
        size = self.config.batch_size
        batch_count = (len(events) + size - 1) // size
        wanted = set(only_batches) if only_batches is not None else None
        indices = [i for i in range(batch_count) if wanted is None or i in wanted]
        if not indices:
            return []
        run = _Send(self.config.events_url(pixel_id), _Token(self.credentials, secret_id), test_event_code)
        batches = [events[i * size : (i + 1) * size] for i in indices]
        results: dict[int, BatchResult] = {}
        workers = min(self.config.concurrency, len(indices))
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="meta-encode") as encoder,
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="meta-send") as pool,
        ):
            bodies = _Prefetch(encoder, batches, ahead=workers)
            futures = [
                pool.submit(self._send_batch, run, index, batch, bodies, position)
                for position, (index, batch) in enumerate(zip(indices, batches, strict=True))
            ]
            try:
                for future in as_completed(futures):
                    result = future.result()
                    results[result.index] = result
                    if on_batch is not None:
                        on_batch(result)
                    if progress is not None:
                        progress(len(results), len(indices))
            except BaseException:
                for future in futures:
                    future.cancel()
                encoder.shutdown(wait=False, cancel_futures=True)
                raise
        return [results[i] for i in indices]

    # -- one batch ------------------------------------------------------------------------------

    def _send_batch(
        self, run: _Send, index: int, batch: Sequence[dict[str, Any]], bodies: _Prefetch, position: int
    ) -> BatchResult:
        result = BatchResult(index=index, event_count=len(batch))
        try:
            body = self._post(run, bodies.take(position), result)
        except MetaRejectedError as error:
            if self._bisectable(error):
                self._bisect(run, batch, error, result)
            else:
                result.error = error
        except MetaError as error:
            result.error = error
        else:
            self._accept(result, body, len(batch))
        logger.info(
            "meta batch done",
            extra={
                "batch": index,
                "status": result.status,
                "event_count": result.event_count,
                "events_received": result.events_received,
                "rejected": len(result.rejected),
                "requests": result.requests,
                "fbtrace_ids": result.fbtrace_ids,
                "error_code": result.error.code if result.error else None,
            },
        )
        return result

    @staticmethod
    def _accept(result: BatchResult, body: dict[str, Any], sent: int) -> None:
        received = body.get("events_received")
        result.events_received += received if isinstance(received, int) else sent
        trace = body.get("fbtrace_id")
        if isinstance(trace, str):
            result.fbtrace_ids.append(trace)
        messages = body.get("messages")
        if isinstance(messages, list):
            result.messages.extend(messages)

    @staticmethod
    def _bisectable(error: MetaError) -> bool:
        """A code-100 refusal about the events (not 100/33, which is about the pixel itself)."""
        return error.code == 100 and error.subcode != 33

    def _bisect(
        self, run: _Send, batch: Sequence[dict[str, Any]], error: MetaError, result: BatchResult
    ) -> None:
        """Find the events that make Meta refuse `batch`; send every other event exactly once.

        Only groups Meta accepted or that are known to fail are ever split, and accepted groups are
        disjoint, so no event is accepted twice. When the left half of a failing group is accepted,
        the right half must hold the bad event and is split without being sent.
        """
        budget = result.requests + self.config.bisect_max_requests
        accepted: list[int] = []
        rejected: list[RejectedEvent] = []

        def attempt(offset: int, group: Sequence[dict[str, Any]]) -> MetaError | None:
            if result.requests >= budget:
                raise _BisectionAborted(
                    MetaRejectedError(
                        "gave up isolating rejected events: too many bisection requests",
                        code=error.code,
                        subcode=error.subcode,
                        fbtrace_id=error.fbtrace_id,
                        user_msg=error.user_msg,
                        http_status=error.http_status,
                    )
                )
            try:
                body = self._post(run, encode_events(group), result)
            except MetaRejectedError as refused:
                if self._bisectable(refused):
                    return refused
                raise _BisectionAborted(refused) from refused
            except MetaError as failed:
                raise _BisectionAborted(failed) from failed
            self._accept(result, body, len(group))
            accepted.extend(range(offset, offset + len(group)))
            return None

        def split(offset: int, group: Sequence[dict[str, Any]], why: MetaError) -> None:
            if len(group) == 1:
                event_id = group[0].get("event_id") if isinstance(group[0], dict) else None
                rejected.append(
                    RejectedEvent(
                        position=offset,
                        event_id=event_id if isinstance(event_id, str) else None,
                        code=why.code,
                        subcode=why.subcode,
                        message=why.user_msg or why.message,
                    )
                )
                return
            middle = len(group) // 2
            left, right = group[:middle], group[middle:]
            left_error = attempt(offset, left)
            if left_error is None:
                split(offset + middle, right, why)
                return
            split(offset, left, left_error)
            right_error = attempt(offset + middle, right)
            if right_error is not None:
                split(offset + middle, right, right_error)

        try:
            split(0, batch, error)
        except _BisectionAborted as aborted:
            if not accepted:
                result.error = aborted.error  # nothing went through: the batch may be resent whole
            else:  # some went through: report the rest as not sent rather than risk sending twice
                done = set(accepted) | {r.position for r in rejected}
                cause = aborted.error
                for position in range(len(batch)):
                    if position not in done:
                        event_id = batch[position].get("event_id")
                        rejected.append(
                            RejectedEvent(
                                position=position,
                                event_id=event_id if isinstance(event_id, str) else None,
                                code=cause.code,
                                subcode=cause.subcode,
                                message=f"not sent: isolating rejected events stopped ({cause.message})",
                            )
                        )
        result.rejected = sorted(rejected, key=lambda r: r.position)
        result.accepted_positions = sorted(accepted)
        if result.error is None and not accepted:
            result.error = error

    # -- one request, with retries --------------------------------------------------------------

    def _post(self, run: _Send, data: bytes, result: BatchResult) -> dict[str, Any]:
        """POST the encoded events `data`, retrying transient failures; the success body or a MetaError."""
        started = self._clock()
        attempts = 0
        refreshed = False
        while True:
            credentials, generation = run.token.current()
            attempts += 1
            result.requests += 1
            try:
                return self._request(run, data, credentials)
            except MetaError as error:
                if error.code == 190 and not refreshed:
                    refreshed = True
                    fresh, _ = run.token.refresh(generation)
                    if fresh.access_token != credentials.access_token:
                        logger.warning("meta token rejected (190); retrying with the refetched secret")
                        attempts -= 1  # a rotated token is a new start, not a spent attempt
                        continue
                if not self.policy.is_retryable(error):
                    final = MetaAuthError if error.code in AUTH_CODES else MetaRejectedError
                    raise error.as_kind(final) from None
                wait = self.policy.backoff(attempts, error, self._rng)
                if not self.policy.may_retry(attempts, self._clock() - started, wait):
                    raise error.as_kind(MetaUnavailableError) from None
                logger.warning(
                    "meta request failed; retrying",
                    extra={
                        "batch": result.index,
                        "attempt": attempts,
                        "code": error.code,
                        "subcode": error.subcode,
                        "http_status": error.http_status,
                        "fbtrace_id": error.fbtrace_id,
                        "wait_seconds": round(wait, 3),
                    },
                )
                self._sleep(wait)

    def _request(self, run: _Send, data: bytes, credentials: MetaCredentials) -> dict[str, Any]:
        """One POST. The success body, or a MetaError (never carrying the token)."""
        rest: dict[str, Any] = {"access_token": credentials.access_token}
        proof = appsecret_proof(credentials)
        if proof:
            rest["appsecret_proof"] = proof
        if run.test_event_code:
            rest["test_event_code"] = run.test_event_code
        if self.config.partner_agent:
            rest["partner_agent"] = self.config.partner_agent
        body = b'{"data":' + data + b"," + json.dumps(rest, separators=(",", ":"))[1:].encode()
        try:
            response = self._http.request("POST", run.url, body=body)
        except urllib3.exceptions.HTTPError as exc:
            kind = "timed out" if isinstance(exc, urllib3.exceptions.TimeoutError) else "network error"
            raise MetaError(f"Meta request {kind} ({type(exc).__name__})", is_transient=True) from None
        try:
            parsed: Any = json.loads(response.data) if response.data else None
        except ValueError:
            parsed = None
        if 200 <= response.status < 300:
            return parsed if isinstance(parsed, dict) else {}
        raise parse_error_body(parsed, response.status, scrub=credentials.access_token)
