"""POST /v1/profiles/{profile_id}/writeback/breaker/reset: an admin closes the breaker (audited)."""

from capi_writeback.api import routes
from capi_writeback.api.app import make_handler

lambda_handler = make_handler(routes.register_breaker_reset)
