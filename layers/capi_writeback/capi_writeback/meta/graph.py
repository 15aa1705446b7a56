"""Graph API reads: the connection check (`GET /{version}/{pixel_id}?fields=id,name`) and the
Dataset Quality API (`GET /{version}/dataset_quality`, CAPI-REFERENCE §11).

Kept apart from `client.py` (the events sender): reads are small, interactive (an admin waits for
the answer) and rare, so they get a short retry budget of their own. The token travels in an
`Authorization: Bearer` header, which Graph accepts on reads, so it is never part of a URL; the
`appsecret_proof` (an HMAC, useless without the token) is a query parameter as Meta documents.
Nothing here logs a URL, a header or a token; Meta's error text is scrubbed of the token.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode

import urllib3
from aws_lambda_powertools import Logger

from capi_writeback.observability import SERVICE

from .client import appsecret_proof
from .config import MetaClientConfig
from .credentials import MetaCredentials
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

logger = Logger(service=SERVICE, child=True)

PIXEL_FIELDS = "id,name"
# The Dataset Quality fields this service shows (`dedupe_key_feedback`, as Meta's examples spell it).
QUALITY_FIELDS = (
    "web{event_name,event_match_quality{composite_score,match_key_feedback{identifier,coverage{percentage}}},"
    "event_coverage{percentage},dedupe_key_feedback{dedupe_key,server_events_with_dedupe_key{percentage}},"
    "data_freshness{upload_frequency}}"
)
READ_ATTEMPTS = 3
READ_SECONDS = 8.0  # an admin is waiting (API Gateway gives up at 29 s)


class GraphReader:
    """GETs against one Graph endpoint (`config.base_url`, `config.api_version`)."""

    def __init__(self, config: MetaClientConfig | None = None, *, sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or MetaClientConfig.from_env()
        self.policy = replace(self.config.retry_policy,
                              max_attempts=min(READ_ATTEMPTS, self.config.max_attempts),
                              max_total_seconds=min(READ_SECONDS, self.config.max_total_seconds))
        self._sleep, self._rng, self._clock = sleep, rng, clock
        self._http = urllib3.PoolManager(
            num_pools=2, maxsize=2, retries=False,
            timeout=urllib3.Timeout(connect=self.config.connect_timeout, read=self.config.read_timeout),
            headers={"Accept": "application/json"})

    def pixel(self, pixel_id: str, credentials: MetaCredentials) -> dict[str, Any]:
        """The pixel's `{"id", "name"}`: proves the token can see the pixel (the connection check)."""
        return self._get(quote(pixel_id, safe=""), {"fields": PIXEL_FIELDS}, credentials, "node")

    def dataset_quality(self, pixel_id: str, credentials: MetaCredentials, *,
                        agent_name: str | None = None) -> dict[str, Any]:
        """Meta's Dataset Quality answer for the pixel (`{"web": [...]}`), for the events sent with
        that `partner_agent` only when `agent_name` is given."""
        params = {"dataset_id": pixel_id, "fields": QUALITY_FIELDS}
        if agent_name:
            params["agent_name"] = agent_name
        return self._get("dataset_quality", params, credentials, "dataset_quality")

    def _get(self, path: str, params: Mapping[str, str], credentials: MetaCredentials,
             edge: str) -> dict[str, Any]:
        query = dict(params)
        proof = appsecret_proof(credentials)
        if proof:
            query["appsecret_proof"] = proof
        url = (f"{self.config.base_url.rstrip('/')}/{quote(self.config.api_version, safe='')}/{path}?"
               + urlencode(query))
        headers = {"Authorization": f"Bearer {credentials.access_token}"}
        started, attempts = self._clock(), 0
        while True:
            attempts += 1
            try:
                return self._request(url, headers, credentials)
            except MetaError as error:
                if not self.policy.is_retryable(error):
                    final = MetaAuthError if error.code in AUTH_CODES else MetaRejectedError
                    logger.info("meta read refused", extra={"edge": edge, "code": error.code,
                                                            "subcode": error.subcode,
                                                            "fbtrace_id": error.fbtrace_id})
                    raise error.as_kind(final) from None
                wait = self.policy.backoff(attempts, error, self._rng)
                if not self.policy.may_retry(attempts, self._clock() - started, wait):
                    logger.warning("meta read failed", extra={"edge": edge, "code": error.code,
                                                              "attempts": attempts})
                    raise error.as_kind(MetaUnavailableError) from None
                self._sleep(wait)

    def _request(self, url: str, headers: Mapping[str, str], credentials: MetaCredentials) -> dict[str, Any]:
        try:
            response = self._http.request("GET", url, headers=dict(headers))
        except urllib3.exceptions.HTTPError as exc:
            raise transport_error(exc) from None
        parsed: Any = json_or_none(response.data)
        if 200 <= response.status < 300 and isinstance(parsed, dict):
            return parsed
        if 200 <= response.status < 300:
            raise MetaError("Meta answered without a JSON object", http_status=response.status,
                            is_transient=True)
        raise parse_error_body(parsed, response.status, scrub=credentials.access_token)


_READERS: dict[MetaClientConfig, GraphReader] = {}


def reader_for(config: MetaClientConfig) -> GraphReader:
    """One reader (one connection pool) per configuration per process, like the Meta client."""
    reader = _READERS.get(config)
    if reader is None:
        reader = _READERS[config] = GraphReader(config)
    return reader


def agent_name(partner_agent: str | None) -> str | None:
    """The Dataset Quality `agent_name` of events sent with `partner_agent`: Meta's normalized
    agent name, lower case without trailing `_<digits>` version parts (`acme_2_1` -> `acme`)."""
    if not partner_agent:
        return None
    import re

    return re.sub(r"(_\d+)+\Z", "", partner_agent.strip().lower()) or None
