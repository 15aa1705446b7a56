"""GET /v1/profiles/{profile_id}/quality: Meta's match quality beside our pre-send counts."""

from capi_writeback.api.app import make_handler
from capi_writeback.api.routes import quality

lambda_handler = make_handler(quality.QUALITY)
