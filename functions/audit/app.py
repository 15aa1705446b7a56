"""GET /v1/profiles/{profile_id}/writeback/audit: the audit trail, newest first."""

from capi_writeback.api.app import make_handler
from capi_writeback.api.routes import audit

lambda_handler = make_handler(audit.LIST)
