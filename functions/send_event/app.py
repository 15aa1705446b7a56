"""POST /v1/profiles/{profile_id}/events: one event, sent now (SPEC §8)."""

from capi_writeback.api.app import make_handler
from capi_writeback.api.routes import events

lambda_handler = make_handler(events.SEND)
