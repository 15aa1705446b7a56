"""Tool arguments → the layer's request models, and the JSON Schemas the tools publish.

Validation is the layer's: the selection and the step fields are checked by the same pydantic models
as the HTTP bodies (`PreviewRequest`, `DryRunRequest`, `ConfirmRequest`, `SendEventRequest`), so a
limit or a pattern is stated once. The SDK is given loose parameters so that every malformed call
reaches this module and is refused as a SPEC §3.3 VALIDATION_ERROR naming each field (the SDK's own
argument errors would be plain text). The published input schemas are built from the same models,
with `mode`/`profile_id` added, and unknown arguments are refused rather than ignored (a typo such as
`idempotencyKey` must not turn a pinned confirm into an unpinned one).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from capi_writeback_mcp import layer

Mode = Literal["preview", "dry_run", "confirm"]
MODES: tuple[Mode, ...] = ("preview", "dry_run", "confirm")
STEP_MODELS: dict[str, type[BaseModel]] = {
    "preview": layer.PreviewRequest,
    "dry_run": layer.DryRunRequest,
    "confirm": layer.ConfirmRequest,
}
# The same constraint as the HTTP API's {profile_id} path parameter.
ProfileId = Annotated[str, Field(min_length=1, max_length=layer.PROFILE_ID_MAX_LENGTH,
                                 pattern=layer.PROFILE_ID_PATTERN,
                                 description="The profile (one tracked business/site) to act on.")]
AUDIT_DEFAULT_LIMIT = 25  # as GET .../writeback/audit
MAX_CURSOR = 2048


class _Target(BaseModel):
    """What every write-back tool call names besides the selection."""

    model_config = ConfigDict(extra="ignore")

    mode: Mode = Field(description="preview: build and show, nothing is sent. dry_run: send with a "
                                   "test_event_code, nothing counts. confirm: send for real, once.")
    profile_id: ProfileId | None = Field(
        default=None, description="The profile (one tracked business/site) to act on; may be left out when "
                                  "the workspace has exactly one profile (whoami lists them).")


class AuditArguments(BaseModel):
    """Arguments of `get_writeback_audit` (the query of GET .../writeback/audit)."""

    model_config = ConfigDict(extra="forbid")

    profile_id: ProfileId
    limit: int = Field(default=AUDIT_DEFAULT_LIMIT, ge=1, le=layer.MAX_AUDIT_PAGE,
                       description="Rows per page, newest first.")
    next: str | None = Field(default=None, min_length=1, max_length=MAX_CURSOR,
                             description="The `next` of the previous page; omit for the first page.")


@dataclass(frozen=True)
class SendArguments:
    """A validated `send_meta_conversions` call (`profile_id` None: the workspace's only profile)."""

    mode: str
    profile_id: str | None
    request: Any  # the mode's request model instance


class InvalidArguments(Exception):
    """Arguments that do not fit; `profile_id` is set when it was valid (the refusal is then audited
    on that profile, as a malformed HTTP step is)."""

    def __init__(self, error: layer.InvalidRequest, *, mode: str | None = None,
                 profile_id: str | None = None, pixel_id: str | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.mode = mode
        self.profile_id = profile_id
        self.pixel_id = pixel_id


def _given(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments actually passed (an explicit null is the same as leaving a field out)."""
    return {k: v for k, v in arguments.items() if v is not None}


def _unknown(arguments: Mapping[str, Any], known: frozenset[str]) -> list[dict[str, str]]:
    return [{"field": "(unknown field)" if not _is_name(k) else k, "type": "extra_forbidden",
             "message": "Unknown argument."} for k in sorted(map(str, arguments)) if k not in known]


def _is_name(key: str) -> bool:
    """A key that may be echoed in an error (an unknown key could be user data, e.g. an email)."""
    return key.isidentifier() and len(key) <= 64


def _invalid(details: list[dict[str, Any]]) -> layer.InvalidRequest:
    return layer.InvalidRequest(details=details)


def parse_send(arguments: Mapping[str, Any]) -> SendArguments:
    """Validate a `send_meta_conversions` call; InvalidArguments names every field that is wrong."""
    given = _given(arguments)
    details = _unknown(given, SEND_FIELDS)
    try:
        target = _Target.model_validate(given)
    except ValidationError as exc:
        raise InvalidArguments(_invalid(details + layer.validation_details(exc.errors()))) from None
    model = STEP_MODELS[target.mode]
    body = {k: v for k, v in given.items() if k in SELECTION_FIELDS}
    for name in sorted(set(body) - set(model.model_fields)):
        modes = [m for m in MODES if name in STEP_MODELS[m].model_fields]
        details.append({"field": name, "type": "extra_forbidden",
                        "message": f"Not used by mode {target.mode}; only by mode {' or '.join(modes)}."})
        body.pop(name)
    try:
        request = model.model_validate(body)
    except ValidationError as exc:
        details += layer.validation_details(exc.errors())
    if details:
        raise InvalidArguments(_invalid(details), mode=target.mode, profile_id=target.profile_id)
    return SendArguments(mode=target.mode, profile_id=target.profile_id, request=request)


def parse_event(arguments: Mapping[str, Any]) -> Any:
    """Validate a `meta_send_conversion_event` call: the body of POST .../events (`SendEventRequest`),
    with pixel_id required and response_format markdown unless said otherwise (SPEC §8)."""
    given = {"response_format": "markdown", **_given(arguments)}
    details = [{"field": "pixel_id", "type": "missing", "message": "Field required"}] \
        if "pixel_id" not in given else []
    try:
        request = layer.SendEventRequest.model_validate(given)
    except ValidationError as exc:
        details += layer.validation_details(exc.errors())
        pixel = given.get("pixel_id")
        valid_pixel = isinstance(pixel, str) and pixel.isascii() and pixel.isdigit() and len(pixel) <= 64
        raise InvalidArguments(_invalid(details), pixel_id=pixel if valid_pixel else None) from None
    if details:
        raise InvalidArguments(_invalid(details))
    return request


NO_ARGUMENTS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


def parse_none(arguments: Mapping[str, Any]) -> None:
    """A tool that takes no arguments (whoami) refuses any, rather than ignoring a misunderstanding."""
    details = _unknown(_given(arguments), frozenset())
    if details:
        raise InvalidArguments(_invalid(details))


def parse_audit(arguments: Mapping[str, Any]) -> AuditArguments:
    """Validate a `get_writeback_audit` call."""
    try:
        return AuditArguments.model_validate(_given(arguments))
    except ValidationError as exc:
        raise InvalidArguments(_invalid(layer.validation_details(exc.errors()))) from None


# ---- published schemas ------------------------------------------------------------------------

def _merged_step_schema() -> dict[str, Any]:
    """The properties of the three step models together (they share the selection), with $defs."""
    properties: dict[str, Any] = {}
    defs: dict[str, Any] = {}
    for model in STEP_MODELS.values():
        schema = model.model_json_schema()
        defs.update(schema.get("$defs", {}))
        for name, prop in schema["properties"].items():
            properties.setdefault(name, prop)
    return {"properties": properties, "$defs": defs}


def send_input_schema() -> dict[str, Any]:
    """inputSchema of `send_meta_conversions`: mode + profile_id + the §3.1 selection and step fields."""
    steps = _merged_step_schema()
    target = _Target.model_json_schema()["properties"]
    properties = {"mode": target["mode"], "profile_id": target["profile_id"], **steps["properties"]}
    properties["test_event_code"] = _described(properties["test_event_code"], " (mode dry_run only)")
    properties["idempotency_key"] = _described(
        properties["idempotency_key"], " Required by mode confirm; reuse it when retrying a confirm.")
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": ["mode"], "additionalProperties": False}
    if steps["$defs"]:
        schema["$defs"] = steps["$defs"]
    return schema


EVENT_REQUIRED = ["pixel_id", "event_name", "event_time", "user_data", "action_source"]


def event_input_schema() -> dict[str, Any]:
    """inputSchema of `meta_send_conversion_event`: the seed's (SPEC §8): the body of POST .../events,
    its required set `pixel_id, event_name, event_time, user_data, action_source`, the action_source
    enum, response_format defaulting to markdown. An optional field is published as its value's
    schema (a call leaves it out rather than passing null)."""
    schema = layer.SendEventRequest.model_json_schema()
    properties = {name: _not_null(prop) for name, prop in schema["properties"].items()}
    properties["response_format"]["default"] = "markdown"
    properties["response_format"]["description"] = (
        "markdown (default): the text block is a short summary for people; json: the text block is the "
        "result as JSON. The structured content is the JSON either way.")
    out: dict[str, Any] = {"type": "object", "properties": properties, "required": list(EVENT_REQUIRED),
                           "additionalProperties": False}
    if schema.get("$defs"):
        out["$defs"] = schema["$defs"]
    return out


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A property of an optional field without its null branch and null default."""
    out = copy.deepcopy(prop)
    variants = out.get("anyOf")
    if isinstance(variants, list) and {"type": "null"} in variants:
        kept = [v for v in variants if v != {"type": "null"}]
        del out["anyOf"]
        if len(kept) == 1:
            out = {**kept[0], **out}
        else:
            out["anyOf"] = kept
        if out.get("default", "") is None:
            del out["default"]
    return out


def audit_input_schema() -> dict[str, Any]:
    schema = AuditArguments.model_json_schema()
    schema["additionalProperties"] = False
    return schema


def _described(prop: dict[str, Any], extra: str) -> dict[str, Any]:
    out = copy.deepcopy(prop)
    out["description"] = (out.get("description") or "").rstrip() + extra
    return out


def object_schema(*models: type[BaseModel]) -> dict[str, Any]:
    """outputSchema for results that are one of `models` (MCP wants an object at the root)."""
    if len(models) == 1:
        schema = models[0].model_json_schema()
        schema.setdefault("type", "object")
        return schema
    defs: dict[str, Any] = {}
    variants = []
    for model in models:
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[model.__name__] = schema
        variants.append({"$ref": f"#/$defs/{model.__name__}"})
    return {"type": "object", "anyOf": variants, "$defs": defs}


SEND_FIELDS = frozenset(send_input_schema()["properties"])
SELECTION_FIELDS = SEND_FIELDS - {"mode", "profile_id"}
