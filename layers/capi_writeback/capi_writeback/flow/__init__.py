"""The write-back flow: handler → api → flow → (rows → events → rails → Meta client) → response.

Each operation takes a `Call` (principal, profile id, request id, how it came in, its deadline) and a
validated request (`capi_writeback.contracts`), and returns the response as plain data or raises a
domain exception (`capi_writeback.exceptions`, the rails' own, or Meta's): the boundary that called
it maps that to a SPEC error. Nothing here knows API Gateway, Step Functions or MCP.

preview.py, dry_run.py, confirm.py: the three steps; conversions.py, audit.py, breaker.py: storing
rows, reading the trail, resetting the breaker; selection.py (SPEC §3.1), sending.py (Meta's
results), trail.py (one audit row per operation), services.py (stores, rails, Meta client);
send_event.py (SPEC §8, one event: event_body.py builds it), profiles.py (a profile by pixel, or the
workspace's only one) and whoami.py (the MCP tools' own).
"""

from capi_writeback.flow.audit import list_audit
from capi_writeback.flow.breaker import reset_breaker
from capi_writeback.flow.confirm import confirm
from capi_writeback.flow.conversions import store_conversions
from capi_writeback.flow.dry_run import dry_run
from capi_writeback.flow.preview import preview
from capi_writeback.flow.send_event import send_event
from capi_writeback.flow.services import Services, default_services, set_default_services
from capi_writeback.flow.trail import Call, record_refusal
from capi_writeback.flow.whoami import whoami

__all__ = [
    "Call",
    "Services",
    "confirm",
    "default_services",
    "dry_run",
    "list_audit",
    "preview",
    "record_refusal",
    "reset_breaker",
    "send_event",
    "set_default_services",
    "store_conversions",
    "whoami",
]
