"""A strict local Meta Conversions API emulator (CAPI-REFERENCE §9), for tests, the demo and users."""

from .faults import KINDS as FAULT_KINDS
from .faults import Fault
from .rules import Refusal, Strictness
from .server import MetaEmulator

__all__ = ["FAULT_KINDS", "Fault", "MetaEmulator", "Refusal", "Strictness"]
