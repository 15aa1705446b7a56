"""The one registry of conversion-row fields (SPEC §4; CAPI-REFERENCE §2 event fields, §3 user_data,
§4 custom_data): each field's canonical row name, the key Meta knows it by, the other spellings a row
may use, where its value goes in the event, its normalizer, and whether it is hashed, multi-valued, a
customer identifier and memoized.

Every list the pipeline uses (`ROW_KEYS`, `SYNONYMS`, `HASHED_FIELDS`, `RAW_FIELDS`, `MEMO_FIELDS`,
`MULTI_VALUE_FIELDS`, `CUSTOMER_KEYS`, `STRONG_KEYS`, `SOURCE_BOUND`) is derived from `FIELDS` here,
so a new PII field is one `Field` below plus its normalizer in `normalize/`: it is then read under its
spellings, normalized, hashed, stored, sent in `user_data` and counted as an identifier if it is one.

The derived views are updated in place by `register`/`unregister` (and the modules that cache
anything derived from them are told through `on_change`), so an import of a view stays current.
Register fields at import time, before rows are built: it is not thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import StrEnum

from capi_writeback.normalize import Normalizer
from capi_writeback.normalize.dates import normalize_date_of_birth
from capi_writeback.normalize.email import normalize_email
from capi_writeback.normalize.gender import normalize_gender
from capi_writeback.normalize.identifiers import (
    normalize_advertising_id,
    normalize_external_id,
    normalize_fb_cookie,
    normalize_ip,
    normalize_numeric_id,
    normalize_opaque_id,
    normalize_user_agent,
)
from capi_writeback.normalize.location import normalize_country, normalize_state, normalize_zip
from capi_writeback.normalize.names import normalize_city, normalize_name
from capi_writeback.normalize.phone import normalize_phone


class Place(StrEnum):
    """Where a field's value goes in the Meta event."""

    HASHED = "user_data, hashed"  # normalized, SHA-256, sent as a list under its key
    USER_DATA = "user_data"  # normalized, sent as is (one string) under its key
    CUSTOM_DATA = "custom_data"
    EVENT = "event"  # a top-level field of the server event
    ROW = "row"  # read from the row (identity, time, click id), never sent under its own name


_PII = (Place.HASHED, Place.USER_DATA)

# Since v13.0 Meta refuses an event whose only customer keys are one of these combinations, or a
# subset of one (CAPI-REFERENCE §2.1). A field whose key is in one of them is a "weak" identifier.
BASELINE_INVALID: tuple[frozenset[str], ...] = (
    frozenset({"ct", "country", "st", "zp", "ge", "client_user_agent"}),
    frozenset({"db", "client_user_agent"}),
    frozenset({"fn", "ge"}),
    frozenset({"ln", "ge"}),
)
_WEAK_KEYS = frozenset().union(*BASELINE_INVALID)


def spelling(key: str) -> str:
    """How a column name is compared: trimmed, lowercase, spaces and dashes as underscores."""
    return key.strip().lower().replace(" ", "_").replace("-", "_")


@dataclass(frozen=True, slots=True)
class Field:
    """One row field.

    `key` is what Meta calls it (`em` for `email`); it defaults to the name, and a ROW field has
    none. `synonyms` are other spellings a row may use (export headers); the key is accepted as one
    too. `normalize(value, country)` gives the plain value Meta wants, or None to drop it with a
    warning; PII fields need one. `multi`: several values may be given (a JSON list, or two
    spellings of the field in one row), and all are sent. `identifier`: counts as customer
    information for Meta's "at least one identifier" rule. `memoized`: values repeat across rows
    (names, places), so their final hash is remembered. `sources`: the action_sources whose events
    carry the field (an app's advertising id, a Messenger user id); empty: every event. Elsewhere it
    is dropped with a warning, and so never counts as an identifier there.
    """

    name: str
    place: Place
    key: str | None = None
    synonyms: tuple[str, ...] = ()
    normalize: Normalizer | None = None
    identifier: bool = False
    multi: bool = False
    memoized: bool = False
    sources: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.key is None and self.place is not Place.ROW:
            object.__setattr__(self, "key", self.name)
        problem = self._problem()
        if problem:
            raise ValueError(f"field {self.name!r}: {problem}")

    def _problem(self) -> str | None:
        if any(spelling(s) != s or not s for s in (self.name, *self.synonyms)):
            return "names and synonyms are written trimmed, lowercase, with underscores"
        if self.place is Place.ROW and self.key is not None:
            return "a row-only field is not sent, so it has no key"
        pii = self.place in _PII
        if pii and self.normalize is None:
            return "a user_data field needs a normalizer"
        if not pii and (self.normalize is not None or self.identifier or self.memoized or self.sources):
            return ("only user_data fields have a normalizer, identify a customer, are memoized or are "
                    "bound to action sources")
        return None

    @property
    def hashed(self) -> bool:
        return self.place is Place.HASHED

    @property
    def weak(self) -> bool:
        """An identifier that alone (or with other weak ones) is too little for Meta to match."""
        return self.identifier and self.key in _WEAK_KEYS

    @property
    def spellings(self) -> tuple[str, ...]:
        """Other spellings that mean this field: Meta's key (if it differs), then the synonyms."""
        own = (self.key,) if self.key is not None and self.key != self.name else ()
        return own + self.synonyms


_APP = frozenset({"app"})
_MESSAGING = frozenset({"business_messaging"})

# The table, in the order fields appear in an event's user_data.
_TABLE: tuple[Field, ...] = (
    # What makes a row an event (its identity and time) and the click id fbc is built from.
    Field("conversion_id", Place.ROW),
    Field("outcome_type", Place.ROW, synonyms=("outcome",)),
    Field("occurred_at", Place.ROW, synonyms=("event_time", "timestamp", "conversion_time", "created_at")),
    Field("fbclid", Place.ROW),
    Field("_warnings", Place.ROW),  # a stored row's warnings (no PII), carried to its build
    # Top-level event fields (CAPI-REFERENCE §2).
    Field("event_name", Place.EVENT, synonyms=("event",)),
    Field("action_source", Place.EVENT),
    Field("event_source_url", Place.EVENT, synonyms=("url",)),
    Field("event_id", Place.EVENT),
    Field("data_processing_options", Place.EVENT, synonyms=("dpo",), multi=True),
    Field("data_processing_options_country", Place.EVENT),
    Field("data_processing_options_state", Place.EVENT),
    Field("app_data", Place.EVENT),
    Field("messaging_channel", Place.EVENT),  # business_messaging: whatsapp | messenger | instagram
    # user_data, normalized then hashed (CAPI-REFERENCE §3.1).
    Field("email", Place.HASHED, key="em", synonyms=("emails", "email_address", "e_mail", "mail"),
          normalize=normalize_email, identifier=True, multi=True),
    Field("phone", Place.HASHED, key="ph",
          synonyms=("phones", "phone_number", "mobile", "mobile_phone", "telephone", "tel"),
          normalize=normalize_phone, identifier=True, multi=True),
    Field("first_name", Place.HASHED, key="fn", synonyms=("firstname", "given_name"),
          normalize=normalize_name, identifier=True, multi=True, memoized=True),
    Field("last_name", Place.HASHED, key="ln", synonyms=("lastname", "surname", "family_name"),
          normalize=normalize_name, identifier=True, multi=True, memoized=True),
    Field("city", Place.HASHED, key="ct", synonyms=("town",),
          normalize=normalize_city, identifier=True, multi=True, memoized=True),
    Field("state", Place.HASHED, key="st", synonyms=("province", "region", "state_code"),
          normalize=normalize_state, identifier=True, multi=True, memoized=True),
    Field("zip", Place.HASHED, key="zp", synonyms=("zip_code", "zipcode", "postal_code", "postcode"),
          normalize=normalize_zip, identifier=True, multi=True),
    Field("country", Place.HASHED, synonyms=("country_code",),
          normalize=normalize_country, identifier=True, multi=True, memoized=True),
    Field("date_of_birth", Place.HASHED, key="db", synonyms=("dob", "birthdate", "birthday", "birth_date"),
          normalize=normalize_date_of_birth, identifier=True, multi=True, memoized=True),
    Field("gender", Place.HASHED, key="ge", synonyms=("sex",),
          normalize=normalize_gender, identifier=True, multi=True, memoized=True),
    Field("external_id", Place.HASHED, synonyms=("customer_id", "user_id"),
          normalize=normalize_external_id, identifier=True, multi=True),
    # user_data sent unhashed, one value each (CAPI-REFERENCE §3.1, §3.3).
    Field("client_ip_address", Place.USER_DATA, synonyms=("ip", "ip_address"),
          normalize=normalize_ip, identifier=True),
    Field("client_user_agent", Place.USER_DATA, synonyms=("user_agent", "ua"),
          normalize=normalize_user_agent, identifier=True),
    Field("fbc", Place.USER_DATA, normalize=normalize_fb_cookie, identifier=True),
    Field("fbp", Place.USER_DATA, normalize=normalize_fb_cookie, identifier=True),
    # App and business-messaging ids, unhashed, on their own events only (CAPI-REFERENCE §3.1, §12).
    Field("madid", Place.USER_DATA, synonyms=("advertising_id", "idfa", "gaid"),
          normalize=normalize_advertising_id, identifier=True, sources=_APP),
    Field("anon_id", Place.USER_DATA, synonyms=("install_id",), normalize=normalize_opaque_id,
          identifier=True, sources=_APP),
    Field("page_id", Place.USER_DATA, normalize=normalize_numeric_id, identifier=True, sources=_MESSAGING),
    Field("page_scoped_user_id", Place.USER_DATA, synonyms=("psid",), normalize=normalize_numeric_id,
          identifier=True, sources=_MESSAGING),
    Field("ctwa_clid", Place.USER_DATA, normalize=normalize_opaque_id, identifier=True, sources=_MESSAGING),
    Field("ig_account_id", Place.USER_DATA, normalize=normalize_numeric_id, identifier=True,
          sources=_MESSAGING),
    Field("ig_sid", Place.USER_DATA, synonyms=("igsid",), normalize=normalize_numeric_id, identifier=True,
          sources=_MESSAGING),
    # The business's accounts in Meta's messaging samples: sent along, but they identify no customer.
    Field("whatsapp_business_account_id", Place.USER_DATA, normalize=normalize_numeric_id,
          sources=_MESSAGING),
    Field("instagram_business_account_id", Place.USER_DATA, normalize=normalize_numeric_id,
          sources=_MESSAGING),
    # custom_data (CAPI-REFERENCE §4).
    Field("value", Place.CUSTOM_DATA, synonyms=("amount", "revenue", "order_value")),
    Field("currency", Place.CUSTOM_DATA),
    Field("content_ids", Place.CUSTOM_DATA, multi=True),
    Field("contents", Place.CUSTOM_DATA, multi=True),
    Field("content_type", Place.CUSTOM_DATA),
    Field("content_name", Place.CUSTOM_DATA),
    Field("content_category", Place.CUSTOM_DATA),
    Field("order_id", Place.CUSTOM_DATA),
    Field("num_items", Place.CUSTOM_DATA),
    Field("search_string", Place.CUSTOM_DATA),
    Field("status", Place.CUSTOM_DATA),
    Field("predicted_ltv", Place.CUSTOM_DATA),
)

# The registry and its derived views: mutated in place only by `_derive`.
_fields: dict[str, Field] = {}
_row_keys: set[str] = set()
_synonyms: dict[str, str] = {}
_hashed: dict[str, Field] = {}
_raw: dict[str, Field] = {}
_memo: set[str] = set()
_multi: set[str] = set()
_customer_keys: set[str] = set()
_strong_keys: set[str] = set()
_source_bound: dict[str, frozenset[str]] = {}
_listeners: list[Callable[[], None]] = []

FIELDS: Mapping[str, Field] = _fields
"""Every field by canonical name, in table order."""
ROW_KEYS: AbstractSet[str] = _row_keys
"""The canonical row keys."""
SYNONYMS: Mapping[str, str] = _synonyms
"""Other spelling -> canonical key: Meta's own keys (`em`, `ph`...) and common export headers."""
HASHED_FIELDS: Mapping[str, Field] = _hashed
"""Fields sent in user_data as lists of SHA-256 hashes, in user_data order."""
RAW_FIELDS: Mapping[str, Field] = _raw
"""Fields sent in user_data unhashed, one value each."""
MEMO_FIELDS: AbstractSet[str] = _memo
"""Fields whose values repeat across rows: their final hash is memoized."""
MULTI_VALUE_FIELDS: AbstractSet[str] = _multi
"""Fields that may hold several values (two spellings in one row are merged into a list)."""
CUSTOMER_KEYS: AbstractSet[str] = _customer_keys
"""user_data keys that identify a customer (CAPI-REFERENCE §3.1, §12)."""
STRONG_KEYS: AbstractSet[str] = _strong_keys
"""Customer keys in none of Meta's baseline-invalid combinations: any one of them is enough."""
SOURCE_BOUND: Mapping[str, frozenset[str]] = _source_bound
"""user_data key -> the action_sources whose events carry it (fields with `sources`)."""


def key_of(name: str) -> str:
    """The key Meta knows a sent field by: `key_of('email') == 'em'`."""
    key = _fields[name].key
    if key is None:
        raise KeyError(f"{name!r} is a row-only field: it is not sent")
    return key


def register(field: Field) -> None:
    """Add `field` to the registry (a new name; spellings no other field uses)."""
    if field.name in _fields:
        raise ValueError(f"field {field.name!r} is already registered")
    _derive((*_fields.values(), field))


def unregister(name: str) -> Field:
    """Remove the field `name` from the registry and return it."""
    field = _fields[name]
    _derive(f for f in _fields.values() if f.name != name)
    return field


def on_change(listener: Callable[[], None]) -> None:
    """Call `listener` after every change of the registry (to drop caches built from it)."""
    _listeners.append(listener)


def _derive(table: Iterable[Field]) -> None:
    fields = {f.name: f for f in table}
    synonyms: dict[str, str] = {}
    for field in fields.values():
        for other in field.spellings:
            taken = synonyms.get(other) or (other if other in fields else None)
            if taken is not None and taken != field.name:
                raise ValueError(f"field {field.name!r}: the spelling {other!r} already means {taken!r}")
            synonyms[other] = field.name
    _fields.clear()
    _fields.update(fields)
    _replace(_row_keys, fields)
    _synonyms.clear()
    _synonyms.update(synonyms)
    _hashed.clear()
    _hashed.update((f.name, f) for f in fields.values() if f.place is Place.HASHED)
    _raw.clear()
    _raw.update((f.name, f) for f in fields.values() if f.place is Place.USER_DATA)
    _replace(_memo, (f.name for f in fields.values() if f.memoized))
    _replace(_multi, (f.name for f in fields.values() if f.multi))
    _replace(_customer_keys, (f.key for f in fields.values() if f.identifier and f.key is not None))
    _replace(_strong_keys, _customer_keys - _WEAK_KEYS)
    _source_bound.clear()
    _source_bound.update((f.key, f.sources) for f in fields.values() if f.sources and f.key is not None)
    for listener in _listeners:
        listener()


def _replace(target: set[str], items: Iterable[str]) -> None:
    new = set(items)
    target.clear()
    target.update(new)


_derive(_TABLE)
