"""POST/GET /v1/profiles/{profile_id}/syncs, GET/PATCH/DELETE .../syncs/{sync_id} (SPEC §10)."""

from capi_writeback.api.app import make_handler
from capi_writeback.api.routes import syncs

lambda_handler = make_handler(*syncs.DEFINITIONS)
