"""Match quality of one event (SPEC §5): how well Meta can match it to a person."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from capi_writeback.fields import key_of

MatchQuality = Literal["great", "good", "weak"]
LEVELS: tuple[MatchQuality, ...] = ("great", "good", "weak")

# SPEC §5 speaks of row fields; user_data holds them under Meta's keys, which the registry knows.
_EMAIL, _PHONE, _IP, _AGENT, _FBP = (key_of(name) for name in (
    "email", "phone", "client_ip_address", "client_user_agent", "fbp"))


def match_quality(user_data: Mapping[str, Any]) -> MatchQuality:
    """great = fbp + email + phone + IP + user agent; good = (email or phone) + (IP or user agent);
    weak = anything less."""
    has_contact = _EMAIL in user_data or _PHONE in user_data
    has_device = _IP in user_data or _AGENT in user_data
    if has_contact and has_device and _FBP in user_data and _EMAIL in user_data and _PHONE in user_data \
            and _IP in user_data and _AGENT in user_data:
        return "great"
    if has_contact and has_device:
        return "good"
    return "weak"
