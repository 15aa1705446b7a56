"""POST /v1/profiles/{profile_id}/conversions: store conversion rows (hashed at ingest)."""

from capi_writeback.api import routes
from capi_writeback.api.app import make_handler

lambda_handler = make_handler(routes.register_conversions)
