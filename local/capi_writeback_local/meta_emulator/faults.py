"""Fault injection (CAPI-REFERENCE §9 rule 11): what to break, and for which requests.

A `Fault` fires for the next `count` requests, for a `fraction` of them, or (neither given) for
all of them; with `after=K` it first lets K requests pass untouched. Latency faults add up; of the
error faults, the first that fires answers the request.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

from .rules import Refusal

KINDS = (
    "latency", "http_500", "http_503", "code_2", "code_4", "code_17", "code_613", "code_80004",
    "code_190", "timeout",
)

_ERRORS: dict[str, Refusal] = {
    "http_500": Refusal(1, "An unknown error occurred", status=500, is_transient=True),
    "code_2": Refusal(2, "An unexpected error has occurred. Please retry your request later.",
                      status=500, is_transient=True),
    "code_4": Refusal(4, "(#4) Application request limit reached", is_transient=True),
    "code_17": Refusal(17, "(#17) User request limit reached", is_transient=True),
    "code_613": Refusal(613, "(#613) Calls to this api have exceeded the rate limit.", is_transient=True),
    "code_80004": Refusal(80004, "There have been too many calls to this ad-account.", subcode=2446079,
                          is_transient=True),
    "code_190": Refusal(190, "Error validating access token: Session has expired.", subcode=463),
}


@dataclass
class Fault:
    """One injected fault. `latency_ms` applies to kind "latency" (and delays any other kind too)."""

    kind: str
    count: int | None = None
    fraction: float | None = None
    latency_ms: float = 0.0
    after: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(KINDS)}")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be >= 1")
        if self.fraction is not None and not 0.0 <= self.fraction <= 1.0:
            raise ValueError("fraction must be within 0..1")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.after < 0:
            raise ValueError("after must be >= 0")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        unknown = set(data) - {"kind", "count", "fraction", "latency_ms", "after"}
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        return cls(**data)

    @classmethod
    def parse(cls, text: str) -> Fault:
        """CLI form KIND[:N|:FRACTION][@LATENCY_MS], e.g. `code_17:2`, `http_503:0.1`, `latency@50`."""
        spec, _, latency = text.partition("@")
        kind, _, amount = spec.partition(":")
        fault = cls(kind, latency_ms=float(latency) if latency else 0.0)
        if amount:
            if "." in amount:
                fault.fraction = float(amount)
            else:
                fault.count = int(amount)
        fault.__post_init__()
        return fault

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """What the faults say about one request: extra latency, and an error (or a hang) if any."""

    latency_ms: float = 0.0
    kind: str | None = None


class FaultPlan:
    """The active faults, consumed request by request. Thread-safe; fractions use a seeded rng."""

    def __init__(self, faults: list[Fault] | None = None, seed: int | None = None) -> None:
        self._faults: list[Fault] = list(faults or [])
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def decide(self) -> Decision:
        with self._lock:
            latency = 0.0
            kind: str | None = None
            for fault in list(self._faults):
                is_error = fault.kind != "latency"
                if fault.after > 0:
                    fault.after -= 1
                    continue
                if is_error and kind is not None:
                    continue
                if fault.fraction is not None and self._rng.random() >= fault.fraction:
                    continue
                latency += fault.latency_ms
                if is_error:
                    kind = fault.kind
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
            return Decision(latency, kind)


def error_body(kind: str) -> tuple[int, bytes, str]:
    """(status, body, content type) of an injected error; http_503 answers with a non-Graph page."""
    if kind == "http_503":
        return 503, b"<html><body>Service Unavailable</body></html>", "text/html"
    refusal = _ERRORS[kind]
    return refusal.status, json.dumps(refusal.envelope()).encode(), "application/json"
