"""CAPI-REFERENCE §9 rules 1-10 as an independent implementation: the check on the layer's own code.

Nothing here imports `capi_writeback`: if the layer builds an event this module refuses, one of the
two is wrong, and the tests find out. Each violation raises `Refusal`, which renders Meta's error
envelope; a request is accepted or refused as a whole (rule 8).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import json
import math
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Literal
from urllib.parse import parse_qs

MAX_EVENTS = 1000
ACTION_SOURCES = frozenset(
    {"email", "website", "app", "phone_call", "chat", "physical_store", "system_generated",
     "business_messaging", "other"}
)
HASHED_KEYS = ("em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country")
# An event whose customer-information keys are all inside one of these sets is not matchable (§2.1).
BASELINE_INVALID = (
    frozenset({"ct", "country", "st", "zp", "ge", "client_user_agent"}),
    frozenset({"db", "client_user_agent"}),
    frozenset({"fn", "ge"}),
    frozenset({"ln", "ge"}),
)
_APPENDIX = r"[A-Za-z0-9_-]{2,8}"
_SHA256 = re.compile(rf"^[a-f0-9]{{64}}(\.{_APPENDIX})?\Z")
_MD5 = re.compile(rf"^[a-f0-9]{{32}}(\.{_APPENDIX})?\Z")
_FB_COOKIE = re.compile(rf"^fb\.\d\.\d{{10,13}}\.[^.\s]+(\.{_APPENDIX})?\Z")
_APPENDIX_ONLY = re.compile(rf"^{_APPENDIX}\Z")  # \Z: `$` also matches before a final newline
_VERSION = re.compile(r"v(\d+)\.(\d+)")
_CURRENCY_CODES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR "
    "FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES "
    "KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK "
    "MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD "
    "SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX "
    "USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XDR XOF XPF YER ZAR ZMW ZWG ZWL"
)
_CURRENCIES = frozenset(_CURRENCY_CODES.split())


def new_fbtrace_id() -> str:
    """A random trace id shaped like Meta's (27 base64url characters)."""
    return secrets.token_urlsafe(20)


@dataclass
class Refusal(Exception):
    """A whole-request refusal, rendered as Meta's Graph error envelope (rule 10)."""

    code: int
    message: str
    status: int = 400
    type: str = "OAuthException"
    subcode: int | None = None
    user_title: str | None = None
    user_msg: str | None = None
    is_transient: bool = False

    def envelope(self, fbtrace_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["is_transient"] = self.is_transient
        if self.user_title is not None:
            error["error_user_title"] = self.user_title
        if self.user_msg is not None:
            error["error_user_msg"] = self.user_msg
        error["fbtrace_id"] = fbtrace_id or new_fbtrace_id()
        return {"error": error}


def _invalid(user_title: str, user_msg: str, subcode: int | None = None) -> Refusal:
    """A code-100 validation refusal with Meta's wording style."""
    return Refusal(100, "Invalid parameter", subcode=subcode, user_title=user_title, user_msg=user_msg)


@dataclass(frozen=True)
class Strictness:
    """Switches for rules whose real enforcement is UNCONFIRMED (CAPI-REFERENCE §10)."""

    website_rule: Literal["reject", "warn"] = "reject"
    accept_md5: bool = False
    future_tolerance_seconds: int = 60
    max_age_days: int = 7
    physical_store_max_age_days: int = 62
    require_appsecret_proof: bool = False
    check_baseline: bool = True
    check_app_data: bool = True
    min_version: int = 21
    max_version: int = 26
    quality_web_only: bool = True  # dataset_quality counts website events only, as Meta's EMQ does


@dataclass
class Request:
    """What rules 1-3 extracted from one HTTP request."""

    api_version: str
    pixel_id: str
    params: dict[str, Any] = field(default_factory=dict)
    token: str | None = None
    token_source: str | None = None
    token_in_url: bool = False


# -- rule 1: route ------------------------------------------------------------------------------


def check_version(version: str, strictness: Strictness) -> str:
    """`v{N}.0` within the supported range (any Graph route), else a code-100 refusal."""
    match = _VERSION.fullmatch(version)
    if not match or match.group(2) != "0" or not (
        strictness.min_version <= int(match.group(1)) <= strictness.max_version
    ):
        raise Refusal(100, f"Unknown or unsupported Graph API version {version!r}")
    return version


def parse_route(method: str, path: str, strictness: Strictness) -> tuple[str, str]:
    """(api_version, pixel_id) of `POST /v{N}.{M}/{id}/events`, else a code-100 refusal."""
    parts = [p for p in path.split("/") if p]
    if len(parts) != 3 or parts[2] != "events":
        raise Refusal(100, f"Unsupported request: unknown path {path!r}", type="GraphMethodException")
    version, pixel_id = check_version(parts[0], strictness), parts[1]
    if method != "POST":
        raise Refusal(
            100,
            "(#100) Reading: You can't perform this operation on this endpoint",
            type="GraphMethodException",
        )
    return version, pixel_id


# -- rules 2-3: parameters, token, data --------------------------------------------------------


def parse_params(query: str, content_type: str, raw: bytes) -> tuple[dict[str, Any], dict[str, str]]:
    """(body parameters, query parameters). JSON, urlencoded and multipart bodies are understood."""
    query_params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    ctype = content_type.split(";")[0].strip().lower()
    body: dict[str, Any] = {}
    if raw:
        if ctype == "application/json":
            try:
                parsed = json.loads(raw)
            except ValueError:
                raise Refusal(100, "(#100) The request body is not valid JSON") from None
            if not isinstance(parsed, dict):
                raise Refusal(100, "(#100) The request body must be a JSON object")
            body = parsed
        elif ctype == "multipart/form-data":
            message = BytesParser(policy=HTTP).parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
            )
            for part in message.iter_parts():  # type: ignore[attr-defined]
                name = part.get_param("name", header="content-disposition")
                if name:
                    body[str(name)] = part.get_content()
        else:  # Graph treats anything else as a form
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                raise Refusal(100, "(#100) The request body is not UTF-8") from None
            body = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    return body, query_params


def find_token(
    body: Mapping[str, Any], query: Mapping[str, str], authorization: str | None
) -> tuple[str | None, str | None]:
    """(token, where it was): JSON/form body, query string, or `Authorization: Bearer`."""
    if isinstance(body.get("access_token"), str) and body["access_token"]:
        return body["access_token"], "body"
    if query.get("access_token"):
        return query["access_token"], "query"
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
        if token:
            return token, "bearer"
    return None, None


def check_token(token: str | None, tokens: Collection[str]) -> None:
    """Rule 2: a known token, else 190."""
    if not token or token not in tokens:
        raise Refusal(
            190,
            "Invalid OAuth access token - Cannot parse access token",
            subcode=None if not token else 467,
        )


def check_proof(proof: Any, expected: str | None, strictness: Strictness) -> None:
    """Rule 2: appsecret_proof must match HMAC-SHA256(app_secret, token) when an app secret is set."""
    if expected is None:
        return
    if proof is None or proof == "":
        if strictness.require_appsecret_proof:
            raise Refusal(100, "API calls from the server require an appsecret_proof argument",
                          type="GraphMethodException")
        return
    if not isinstance(proof, str) or not secrets.compare_digest(proof, expected):
        raise Refusal(100, "Invalid appsecret_proof provided in the API argument",
                      type="GraphMethodException")


def parse_data(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rule 3: `data` is a JSON array (or a JSON string of one); elements are objects or JSON strings."""
    if "data" not in body:
        raise Refusal(100, "(#100) The parameter data is required")
    data = body["data"]
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            raise Refusal(100, "(#100) param data must be an array.") from None
    if not isinstance(data, list):
        raise Refusal(100, "(#100) param data must be an array.")
    if not data:
        raise Refusal(100, "(#100) param data must be a non-empty array.")
    if len(data) > MAX_EVENTS:
        raise Refusal(100, f"(#100) param data must be an array with at most {MAX_EVENTS} elements.")
    events: list[dict[str, Any]] = []
    for element in data:
        if isinstance(element, str):
            try:
                element = json.loads(element)
            except ValueError:
                raise Refusal(100, "(#100) data elements must be JSON objects") from None
        if not isinstance(element, dict):
            raise Refusal(100, "(#100) data elements must be JSON objects")
        events.append(element)
    return events


# -- rules 4-7: one event ------------------------------------------------------------------------


def check_event(event: Mapping[str, Any], now: float, strictness: Strictness) -> list[str]:
    """Rules 4-7 for one event. Returns warnings (rule 5 in warn mode); raises `Refusal`."""
    get = event.get
    name, event_time, user_data, source = (
        get("event_name"), get("event_time"), get("user_data"), get("action_source")
    )
    required = (name, event_time, user_data, source)
    if None in required or "" in required:
        for field_name in ("event_name", "event_time", "user_data", "action_source"):
            if get(field_name) in (None, ""):
                raise _invalid(
                    "Missing Required Parameter", f"The {field_name} parameter is required for each event."
                )
    if not isinstance(name, str):
        raise _invalid("Invalid Event Name", "The event_name parameter must be a string.")
    if not isinstance(source, str) or source not in ACTION_SOURCES:
        raise _invalid(
            "Invalid Action Source",
            f"The action_source value {source!r} is not valid. "
            f"Use one of: {', '.join(sorted(ACTION_SOURCES))}.",
        )
    _check_time(event_time, source, now, strictness)
    warnings: list[str] = []
    if source == "website":
        agent = user_data.get("client_user_agent") if isinstance(user_data, dict) else None
        missing = [n for n, v in (("event_source_url", get("event_source_url")), ("client_user_agent", agent))
                   if not v]
        if missing:
            text = f"Website events need {' and '.join(missing)}."
            if strictness.website_rule == "reject":
                raise _invalid("Missing Website Parameters", text)
            warnings.append(text)
    elif source == "app" and strictness.check_app_data:
        _check_app_data(get("app_data"))
    _check_user_data(user_data, strictness)
    _check_custom_data(name, get("custom_data"))
    return warnings


def _check_time(value: Any, source: str, now: float, strictness: Strictness) -> None:
    if not _is_integer(value):
        raise _invalid("Invalid Event Time", "The event_time parameter must be a Unix timestamp in seconds.")
    event_time = int(value)
    days = strictness.physical_store_max_age_days if source == "physical_store" else strictness.max_age_days
    if event_time < now - days * 86400:
        raise _invalid(
            "Event Timestamp Too Old",
            f"The timestamp for this event is too far in the past. Events need to be sent from your server "
            f"within {days} days of when they occurred.",
            subcode=2804003,
        )
    if event_time > now + strictness.future_tolerance_seconds:
        raise _invalid("Event Timestamp In Future", "The timestamp for this event is in the future.")


def _check_app_data(app_data: Any) -> None:
    if not isinstance(app_data, dict):
        raise _invalid("Missing App Data", "App events need app_data.")
    if "advertiser_tracking_enabled" not in app_data:
        raise _invalid("Missing App Data", "App events need app_data.advertiser_tracking_enabled.")
    extinfo = app_data.get("extinfo")
    if not isinstance(extinfo, list) or not extinfo or extinfo[0] not in ("a2", "i2"):
        raise _invalid(
            "Invalid Extinfo", "app_data.extinfo must be a 16-element array starting with a2 or i2."
        )


@functools.lru_cache(maxsize=4096)
def _is_ip(value: str) -> bool:
    """IPv4 or IPv6, optionally with a parameter-builder appendix (cached: senders repeat addresses)."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    head, _, tail = value.rpartition(".")
    if head and _APPENDIX_ONLY.match(tail):
        try:
            ipaddress.ip_address(head)
            return True
        except ValueError:
            return False
    return False


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != []


_HASHED = frozenset(HASHED_KEYS)
_BASELINE_KEYS = frozenset().union(*BASELINE_INVALID)
_NOT_HASHED_MSG = (
    "The {key} parameter isn’t hashed. Hash all user parameters as SHA256, except for client user agent, "
    "click ID, and browser ID. Any other user parameters that are not hashed are automatically rejected by "
    "Facebook."
)


def _check_user_data(user_data: Any, strictness: Strictness) -> None:
    """Rule 6: hashed keys are hashes, never-hashed keys look right, identifiers are matchable."""
    if not isinstance(user_data, dict):
        raise _invalid("Invalid User Data", "The user_data parameter must be an object.")
    keys: set[str] = set()
    for key, value in user_data.items():
        if value is None or value == "" or value == []:
            continue
        keys.add(key)
        if key in _HASHED:
            for item in value if isinstance(value, list) else (value,):
                if not (isinstance(item, str) and (
                    _SHA256.match(item) or (strictness.accept_md5 and _MD5.match(item))
                )):
                    raise _invalid(
                        "User Parameter Not Hashed", _NOT_HASHED_MSG.format(key=key), subcode=2804016
                    )
        elif key == "client_ip_address":
            if not (isinstance(value, str) and _is_ip(value)):
                raise _invalid(
                    "Invalid IP Address",
                    "The client_ip_address parameter must be a valid IPv4 or IPv6 address.",
                )
        elif key in ("fbc", "fbp"):
            if not (isinstance(value, str) and _FB_COOKIE.match(value)):
                raise _invalid(
                    f"Invalid {key} Parameter",
                    f"The {key} parameter must look like fb.<subdomain index>.<creation time>.<value>.",
                )
        elif key == "client_user_agent":
            if not isinstance(value, str):
                raise _invalid("Invalid User Agent", "The client_user_agent parameter must be a string.")
        elif key in ("fb_login_id", "lead_id"):
            if not _is_integer(value):
                raise _invalid("Invalid Parameter", f"The {key} parameter must be an integer.")
        elif key == "external_id" and not all(
            isinstance(v, str) and v for v in (value if isinstance(value, list) else (value,))
        ):
            raise _invalid(
                "Invalid External ID", "The external_id parameter must be a string or a list of strings."
            )
    if not keys:
        raise _invalid(
            "Missing User Data", "You must provide at least one customer information parameter in user_data."
        )
    # a key outside every baseline-invalid combination makes the event matchable (fast path)
    if (
        strictness.check_baseline
        and keys <= _BASELINE_KEYS
        and any(keys <= combo for combo in BASELINE_INVALID)
    ):
        raise _invalid(
            "Insufficient Customer Information",
            "The customer information parameters of this event cannot be matched: add email, phone, "
            "external_id, click ID, browser ID or IP address.",
        )


def _check_custom_data(event_name: str, custom_data: Any) -> None:
    if custom_data is not None and not isinstance(custom_data, dict):
        raise _invalid("Invalid Custom Data", "The custom_data parameter must be an object.")
    data = custom_data or {}
    value = data.get("value")
    if value is not None and not _is_number(value):
        raise _invalid("Invalid Value", "The value parameter must be a number.")
    currency = data.get("currency")
    if currency is not None and not (isinstance(currency, str) and currency.upper() in _CURRENCIES):
        raise _invalid("Invalid Currency Code", "The currency parameter must be an ISO 4217 currency code.")
    if event_name == "Purchase":
        if value is None:
            raise _invalid(
                "Missing Value for Purchase Event",
                "Your purchase event doesn’t include a value parameter. Add value and currency to your "
                "purchase events.",
                subcode=2804009,
            )
        if currency is None:
            raise _invalid(
                "Missing Currency for Purchase Event",
                "Your purchase event doesn’t include a currency parameter. Add an ISO 4217 currency code.",
            )


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return False
    return isinstance(value, float) and math.isfinite(value)


def _is_integer(value: Any) -> bool:
    """An int (not a bool) or a string of digits (some senders send numbers as strings)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.isdigit())


# -- one whole request (rules 1-10), as a pure function ------------------------------------------


@dataclass(frozen=True)
class Inbound:
    """One events-edge request as received (picklable, so worker processes can judge it)."""

    method: str
    path: str
    query: str
    content_type: str
    authorization: str | None
    raw: bytes


@dataclass(frozen=True)
class Policy:
    """What the emulator knows when it judges a request."""

    tokens: frozenset[str]
    pixel_ids: frozenset[str]
    app_secret: str | None
    strictness: Strictness


@dataclass
class Verdict:
    """The answer to one request and what the ledger records about it."""

    status: int
    body: bytes
    api_version: str | None = None
    pixel_id: str | None = None
    token_source: str | None = None
    test_event_code: str | None = None
    partner_agent: str | None = None
    event_count: int | None = None
    events: list[dict[str, Any]] | None = None


def evaluate(request: Inbound, policy: Policy, now: float, keep_events: bool = True) -> Verdict:
    """Rules 1-10 for one request: Meta's answer, and the parsed events when `keep_events`."""
    verdict = Verdict(0, b"")
    strict = policy.strictness
    trace = new_fbtrace_id()
    try:
        verdict.api_version, verdict.pixel_id = parse_route(request.method, request.path, strict)
        body, query = parse_params(request.query, request.content_type, request.raw)
        token, verdict.token_source = find_token(body, query, request.authorization)
        check_token(token, policy.tokens)
        assert token is not None
        expected = (
            hmac.new(policy.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
            if policy.app_secret
            else None
        )
        check_proof(body.get("appsecret_proof", query.get("appsecret_proof")), expected, strict)
        if verdict.pixel_id not in policy.pixel_ids:
            raise Refusal(
                100,
                f"Unsupported post request. Object with ID '{verdict.pixel_id}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                type="GraphMethodException",
                subcode=33,
            )
        code = body.get("test_event_code") or query.get("test_event_code") or None
        verdict.test_event_code = str(code) if code is not None else None
        agent = body.get("partner_agent") or query.get("partner_agent") or None
        verdict.partner_agent = str(agent) if agent is not None else None
        events = parse_data(body)
        verdict.event_count = len(events)
        if keep_events:
            verdict.events = events
        messages: list[str] = []
        for event in events:
            messages.extend(check_event(event, now, strict))
    except Refusal as refusal:
        verdict.status, verdict.body = refusal.status, json.dumps(refusal.envelope(trace)).encode()
        return verdict
    answer = {"events_received": len(events), "messages": messages, "fbtrace_id": trace}
    verdict.status, verdict.body = 200, json.dumps(answer).encode()
    return verdict


def decode_events(request: Inbound) -> list[dict[str, Any]]:
    """The events of a request already judged acceptable (for lazy storage after worker judging)."""
    body, _query = parse_params(request.query, request.content_type, request.raw)
    return parse_data(body)
