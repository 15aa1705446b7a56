"""/v1/profiles and /v1/profiles/{profile_id}: create, list, read and change profiles."""

from capi_writeback.api.app import make_handler
from capi_writeback.api.routes import admin_profiles

lambda_handler = make_handler(*admin_profiles.ROUTERS)
