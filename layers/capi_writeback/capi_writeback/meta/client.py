"""The Meta Conversions API client: `POST /{version}/{pixel_id}/events`, safely.

- The access token travels in the JSON body only (never in a URL, a log line or an exception), with
  `appsecret_proof` when the connection has an app secret.
- Batches of at most 1,000 events go out concurrently on a bounded pool; results come back in batch
  order. `on_batch` and `progress` run on the caller's thread, one at a time, as batches finish, so the
  caller may write progress to DynamoDB from them; if `on_batch` raises, no further batch is started
  and the exception propagates (batches already in flight finish first).
- Transient failures are retried per `RetryPolicy`; a 190 makes the client refetch the secret once and
  retry with the new token if it changed.
- A whole-batch code-100 rejection is bisected (isolation.py): every valid event is still sent exactly
  once and each bad event is reported with Meta's message.
- A timed-out request is retried like any transient failure; Meta may have taken the first attempt,
  which is why every event carries a stable event_id (Meta deduplicates on event_name + event_id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from functools import partial
from typing import Any

import urllib3
from aws_lambda_powertools import Logger

from capi_writeback.observability import SERVICE

from .config import MetaClientConfig
from .credentials import CredentialSource, MetaCredentials, SecretsManagerCredentials
from .encoding import EncodedBatch, Prefetch, encode_events
from .errors import (
    AUTH_CODES,
    MetaAuthError,
    MetaError,
    MetaRejectedError,
    MetaUnavailableError,
    json_or_none,
    parse_error_body,
    transport_error,
)
from .isolation import Abort, isolate
from .results import BatchResult, RejectedEvent

__all__ = ["BatchResult", "EncodedBatch", "MetaClient", "RejectedEvent"]

# A child of the service logger (`capi_writeback.observability`): its lines go through the service's
# handler and formatter, so they carry the request's correlation id and the service name.
logger = Logger(service=SERVICE, child=True)

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


@dataclass
class _Send:
    """What every request of one `send` shares."""

    url: str
    token: _Token
    test_event_code: str | None


def _data_of(batch: EncodedBatch) -> bytes:
    return batch.data


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
            bodies = Prefetch(encoder, batches, ahead=workers)
            futures = [
                pool.submit(self._send_prefetched, run, index, batch, bodies, position)
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

    def send_batches(
        self,
        pixel_id: str,
        secret_id: str,
        batches: Iterable[EncodedBatch],
        *,
        test_event_code: str | None = None,
        on_batch: OnBatch | None = None,
    ) -> list[BatchResult]:
        """Send batches already encoded, taking each from `batches` only when a sender is free.

        At most `concurrency` batches are in flight and the next one is pulled (on the caller's
        thread) as one finishes, before that batch's `on_batch` runs, so the senders stay busy while
        the caller records it, and a producer that builds batches as they are asked for, or reads
        them from disk, keeps memory flat whatever the payload. Results in batch-index order;
        `on_batch` and failures as in `send` (if `on_batch` or the producer raises, no new batch
        starts, the ones in flight finish, the exception propagates). Unreadable credentials raise
        `CredentialsError` before anything is pulled or sent.
        """
        run = _Send(self.config.events_url(pixel_id), _Token(self.credentials, secret_id), test_event_code)
        workers = max(self.config.concurrency, 1)
        source = iter(batches)
        results: list[BatchResult] = []
        in_flight: set[Future[BatchResult]] = set()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="meta-send") as pool:

            def refill() -> None:  # keep `workers` batches in flight while the source has more
                while len(in_flight) < workers:
                    batch = next(source, None)
                    if batch is None:
                        return
                    in_flight.add(pool.submit(self._send_batch, run, batch.index, batch.event_count,
                                              partial(_data_of, batch), batch.events))

            try:
                refill()
                while in_flight:
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    finished = sorted((future.result() for future in done), key=lambda r: r.index)
                    refill()  # the senders go on while the callbacks below run (e.g. a ledger write)
                    for result in finished:
                        results.append(result)
                        if on_batch is not None:
                            on_batch(result)
            except BaseException:
                for future in in_flight:
                    future.cancel()
                raise
        return sorted(results, key=lambda r: r.index)

    # -- one batch ------------------------------------------------------------------------------

    def _send_prefetched(
        self, run: _Send, index: int, batch: Sequence[dict[str, Any]], bodies: Prefetch, position: int
    ) -> BatchResult:
        return self._send_batch(run, index, len(batch), lambda: bodies.take(position), lambda: batch)

    def _send_batch(
        self,
        run: _Send,
        index: int,
        event_count: int,
        data: Callable[[], bytes],
        events: Callable[[], Sequence[dict[str, Any]]],
    ) -> BatchResult:
        """POST one batch (`data()` its encoded events; `events()` them, for a bisection only)."""
        result = BatchResult(index=index, event_count=event_count)
        try:
            body = self._post(run, data(), result)
        except MetaRejectedError as error:
            if self._bisectable(error):
                self._bisect(run, events(), error, result)
            else:
                result.error = error
        except MetaError as error:
            result.error = error
        else:
            self._accept(result, body, event_count)
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
        """Isolate the events that made Meta refuse `batch` (see isolation.py); send the rest once."""
        budget = result.requests + self.config.bisect_max_requests

        def attempt(offset: int, group: Sequence[dict[str, Any]]) -> MetaError | None:
            if result.requests >= budget:
                raise Abort(
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
                raise Abort(refused) from refused
            except MetaError as failed:
                raise Abort(failed) from failed
            self._accept(result, body, len(group))
            return None

        isolation = isolate(batch, error, attempt)
        result.rejected = isolation.rejected
        result.accepted_positions = isolation.accepted
        if not isolation.accepted:  # nothing went through: the batch may be resent whole
            result.error = isolation.aborted or error

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
            raise transport_error(exc) from None
        parsed: Any = json_or_none(response.data)
        if 200 <= response.status < 300:
            return parsed if isinstance(parsed, dict) else {}
        raise parse_error_body(parsed, response.status, scrub=credentials.access_token)
