"""Match quality of one event (SPEC §5): how well Meta can match it to a person."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

MatchQuality = Literal["great", "good", "weak"]
LEVELS: tuple[MatchQuality, ...] = ("great", "good", "weak")


def match_quality(user_data: Mapping[str, Any]) -> MatchQuality:
    """great = fbp + email + phone + IP + user agent; good = (email or phone) + (IP or user agent);
    weak = anything less."""
    has_contact = "em" in user_data or "ph" in user_data
    has_device = "client_ip_address" in user_data or "client_user_agent" in user_data
    if (
        "fbp" in user_data and "em" in user_data and "ph" in user_data
        and "client_ip_address" in user_data and "client_user_agent" in user_data
    ):
        return "great"
    if has_contact and has_device:
        return "good"
    return "weak"
