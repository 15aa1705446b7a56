"""Graph reads: `GET /{version}/{pixel_id}` (a connection check) and `GET /{version}/dataset_quality`.

Both take the token the way Meta takes it on a GET: the `access_token` query parameter or an
`Authorization: Bearer` header (CAPI-REFERENCE §1.3, §11); `appsecret_proof` is checked as on the
events edge. Refusals use Meta's envelope: 190 for a missing or unknown token, 100/33 for a pixel
that does not exist (or the token cannot see), 100 for a bad parameter or field. Like `rules`, this
module never imports `capi_writeback`.

- `GET /{version}/{pixel_id}?fields=id,name` -> `{"id", "name"}` (the fields asked for; `id` and
  `name` when `fields` is left out). Other AdsPixel fields are not emulated and answer code 100.
- `GET /{version}/dataset_quality?dataset_id=...&fields=web{...}[&agent_name=...]` -> see
  `quality` (an approximation computed from the events received).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from . import quality
from .rules import Refusal, Strictness, Verdict, check_proof, check_token, check_version, find_token

DATASET_QUALITY = "dataset_quality"
PIXEL_FIELDS = ("id", "name")


@dataclass(frozen=True)
class ReadRequest:
    """One Graph GET as received (the body of a GET is ignored, as Graph does)."""

    path: str
    query: str
    authorization: str | None


def edge_of(method: str, path: str) -> str | None:
    """"node" or "dataset_quality" for a Graph read this module answers, else None."""
    parts = [p for p in path.split("/") if p]
    if method != "GET" or len(parts) != 2:
        return None
    return DATASET_QUALITY if parts[1] == DATASET_QUALITY else "node"


def _unknown_object(object_id: str) -> Refusal:
    return Refusal(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation.",
        type="GraphMethodException",
        subcode=33,
    )


def evaluate_read(
    request: ReadRequest,
    *,
    tokens: frozenset[str],
    pixels: Mapping[str, str],
    app_secret: str | None,
    strictness: Strictness,
    received: Callable[[str], list[quality.ReceivedBatch]],
    now: float,
) -> Verdict:
    """Meta's answer to one read; `pixels` maps known ids to names, `received(pixel_id)` gives the
    live batches accepted for a pixel (read only for dataset_quality)."""
    verdict = Verdict(0, b"")
    parts = [p for p in request.path.split("/") if p]
    try:
        verdict.api_version = check_version(parts[0], strictness)
        query = {k: v[0] for k, v in parse_qs(request.query, keep_blank_values=True).items()}
        token, verdict.token_source = find_token({}, query, request.authorization)
        check_token(token, tokens)
        assert token is not None
        expected = (hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
                    if app_secret else None)
        check_proof(query.get("appsecret_proof"), expected, strictness)
        if parts[1] == DATASET_QUALITY:
            body = _dataset_quality(query, pixels, strictness, received, now)
            verdict.pixel_id = query.get("dataset_id")
        else:
            verdict.pixel_id = parts[1]
            body = _pixel(parts[1], query, pixels)
    except Refusal as refusal:
        verdict.status, verdict.body = refusal.status, json.dumps(refusal.envelope()).encode()
        return verdict
    verdict.status, verdict.body = 200, json.dumps(body).encode()
    return verdict


def _fields(query: Mapping[str, str], schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """The parsed `fields` parameter, checked against `schema`; None when absent or empty."""
    text = query.get("fields", "").strip()
    if not text:
        return None
    try:
        tree = quality.parse_fields(text)
        quality.check_fields(tree, schema)
    except quality.FieldError as exc:
        raise Refusal(100, str(exc) if str(exc).startswith("(#100)") else f"(#100) {exc}") from None
    return tree


def _pixel(pixel_id: str, query: Mapping[str, str], pixels: Mapping[str, str]) -> dict[str, Any]:
    if pixel_id not in pixels:
        raise _unknown_object(pixel_id)
    tree = _fields(query, dict.fromkeys(PIXEL_FIELDS))
    node = {"id": pixel_id, "name": pixels[pixel_id]}
    return {"id": pixel_id, **quality.project(node, tree)} if tree else node


def _dataset_quality(
    query: Mapping[str, str],
    pixels: Mapping[str, str],
    strictness: Strictness,
    received: Callable[[str], list[quality.ReceivedBatch]],
    now: float,
) -> dict[str, Any]:
    dataset_id = query.get("dataset_id", "").strip()
    if not dataset_id:
        raise Refusal(100, "(#100) The parameter dataset_id is required")
    if dataset_id not in pixels:
        raise _unknown_object(dataset_id)
    tree = _fields(query, quality.SCHEMA)
    answer = quality.dataset_quality(received(dataset_id), now=now, web_only=strictness.quality_web_only,
                                     agent_name=query.get("agent_name") or None)
    return quality.project(answer, tree)
