"""GET /v1/profiles/{profile_id}/writeback/audit: the audit trail, newest first."""

from capi_writeback.api import routes
from capi_writeback.api.app import make_handler

lambda_handler = make_handler(routes.register_audit)
