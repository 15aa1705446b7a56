"""The write-back flow: handler → flow → (rows → events → rails → Meta client) → response.

Functions here take a `Call` (principal, profile id, request id) and a validated request model and
return the response dict, or raise an `ApiError`. They know nothing of API Gateway or Step Functions.
"""

from capi_writeback.flow.admin import list_audit, reset_breaker, store_conversions
from capi_writeback.flow.services import Services, default_services, set_default_services
from capi_writeback.flow.steps import confirm, dry_run, preview
from capi_writeback.flow.trail import Call, record_refusal

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
    "set_default_services",
    "store_conversions",
]
