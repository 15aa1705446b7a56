"""Single-event send (SPEC §8): `POST /v1/profiles/{profile_id}/events` and the MCP tool
`meta_send_conversion_event` take the same body, validated by `SendEventRequest`.

The body is shaped like one CAPI server event, so a backend forwarding a Pixel event passes it
almost as is. The values are checked here for their types and limits only; what Meta would refuse
(age, missing fields for the action_source, identifiers...) is decided by the same pipeline as
conversion rows (`flow/event_body.py`), which refuses the event with the reason code.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, field_validator

from capi_writeback.contracts.common import Model, Strict
from capi_writeback.limits import ACTION_SOURCES, MESSAGING_CHANNEL_NAMES

if TYPE_CHECKING:
    ActionSource = str
    MessagingChannel = str
else:  # Meta's values, stated once in `limits` (the schemas publish them as enums)
    ActionSource = Literal[ACTION_SOURCES]
    MessagingChannel = Literal[MESSAGING_CHANNEL_NAMES]
ResponseFormat = Literal["markdown", "json"]
EventTime = Annotated[int, Field(ge=0, strict=True)] | Annotated[str, Field(min_length=1, max_length=64)]
ProcessingOptions = Annotated[list[Annotated[str, Field(max_length=16)]], Field(max_length=4)]
MAX_USER_DATA_KEYS = 40
MAX_CUSTOM_DATA_KEYS = 100
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]+")


class SendEventRequest(Strict):
    """Body of POST .../events and the arguments of `meta_send_conversion_event` (SPEC §8)."""

    pixel_id: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[0-9]+$",
        description="The Meta pixel (dataset) id. HTTP: optional, must be the profile's; MCP: required, "
                    "it selects the profile of your workspace connected to it.")
    event_name: str = Field(
        min_length=1, max_length=64,
        description="A standard event (Purchase, Lead, Schedule, ...; any case) or a custom name: "
                    "lowercase letters, digits and underscores, at most 40 characters.")
    event_time: EventTime = Field(
        description="When it happened, in unix seconds. Unix milliseconds and ISO-8601 text are accepted "
                    "and converted (with a warning). At most 7 days ago (62 for physical_store).")
    action_source: ActionSource = Field(
        description="Where the conversion happened. website needs event_source_url and "
                    "user_data.client_user_agent; app needs app_data; business_messaging needs "
                    "messaging_channel and that channel's ids in user_data.")
    user_data: dict[str, Any] = Field(
        min_length=1, max_length=MAX_USER_DATA_KEYS,
        description="Customer information: raw values (normalized and SHA-256 hashed here) or SHA-256 "
                    "hex (passed through). Keys as a conversion row (email, phone, first_name, ...) or "
                    "CAPI's own (em, ph, fn, ln, db, ge, ct, st, zp, country, external_id), plus "
                    "client_ip_address, client_user_agent, fbc, fbp, and the messaging/app ids page_id, "
                    "page_scoped_user_id, ctwa_clid, ig_account_id, ig_sid, madid, anon_id.")
    custom_data: dict[str, Any] | None = Field(
        default=None, max_length=MAX_CUSTOM_DATA_KEYS,
        description="currency, value, content_name, content_ids, content_type, contents, order_id, "
                    "num_items, search_string, status, predicted_ltv, content_category.")
    event_source_url: str | None = Field(default=None, min_length=1, max_length=2048,
                                         description="The page URL (website events).")
    event_id: str | None = Field(
        default=None, min_length=1, max_length=256,
        description="Your id of the event (the Pixel's eventID, for Pixel + CAPI deduplication). Default: "
                    "derived from the event's content, so a retry of the same event has the same id.")
    app_data: dict[str, Any] | None = Field(
        default=None, max_length=20,
        description="App events: advertiser_tracking_enabled (0/1) and extinfo (16 strings: a2/i2, "
                    "package, short version, long version, OS version, ...).")
    messaging_channel: MessagingChannel | None = Field(
        default=None, description="business_messaging events: the channel the conversation happened on.")
    data_processing_options: ProcessingOptions | None = Field(
        default=None, description='Limited Data Use: ["LDU"], or [] to say it does not apply.')
    data_processing_options_country: int | None = Field(
        default=None, ge=0, le=9999, description="With LDU: 1 = USA, 0 = geolocate.")
    data_processing_options_state: int | None = Field(
        default=None, ge=0, le=9999, description="With LDU: 1000 = California, ..., 0 = geolocate.")
    test_event_code: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
        description="With it, a test send (Events Manager > Test events; nothing counts); without it, "
                    "a live send, exactly once per (pixel_id, event_name, event_id).")
    response_format: ResponseFormat = Field(
        default="json", description="json (the result as JSON) or markdown (a short summary for people).")

    @field_validator("event_id")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or not _PRINTABLE.fullmatch(value)):
            raise ValueError("event_id must be text without control characters")
        return value


class SendEventResponse(Model):
    """What a single-event send answers (SPEC §8); a replay answers the first send's result."""

    operation: Literal["send_event"] = "send_event"
    request_id: str | None = None
    profile_id: str
    pixel_id: str
    event_name: str
    event_id: str = Field(description="The event's id (given, or derived from its content).")
    events_received: int
    fbtrace_id: str | None = None
    messages: list[Any] = Field(default_factory=list)
    match_quality: Literal["great", "good", "weak"]
    warnings: list[str] = Field(default_factory=list)
    test_event_code: str | None = Field(default=None, description="Set for a test send.")
    replayed: bool = Field(description="True: this event was sent before; nothing was sent again.")
    original_request_id: str | None = Field(default=None,
                                            description="On a replay: the request that did the sending.")
    event: dict[str, Any] = Field(description="The server event exactly as sent (PII hashed).")
