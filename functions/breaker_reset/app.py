"""POST /v1/profiles/{profile_id}/writeback/breaker/reset: an admin closes the breaker (audited)."""

from capi_writeback.api.app import make_handler
from capi_writeback.api.routes import writeback

lambda_handler = make_handler(writeback.BREAKER_RESET)
