"""A strict local Meta Conversions API emulator (CAPI-REFERENCE §9), for tests, the demo and users.

It also answers the Graph reads a sender makes around the events edge: `GET /{version}/{pixel_id}`
(a connection check, `reads`) and `GET /{version}/dataset_quality` (match quality computed from the
events it received: an approximation, documented in `quality`).
"""

from .faults import KINDS as FAULT_KINDS
from .faults import Fault
from .rules import Refusal, Strictness
from .server import MetaEmulator

__all__ = ["FAULT_KINDS", "Fault", "MetaEmulator", "Refusal", "Strictness"]
