"""POST /v1/profiles/{profile_id}/conversions: store conversion rows (hashed at ingest)."""

from capi_writeback.api.app import make_handler
from capi_writeback.api.routes import conversions

lambda_handler = make_handler(conversions.STORE)
