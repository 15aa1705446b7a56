"""PUT/DELETE /v1/profiles/{profile_id}/connection: connect Meta (checked first) or disconnect."""

from capi_writeback.api.app import make_handler
from capi_writeback.api.routes import admin_connection

lambda_handler = make_handler(*admin_connection.ROUTERS)
