"""/v1/workspace (settings, members, trail) and /v1/tokens: the workspace's administration."""

from capi_writeback.api.app import make_handler
from capi_writeback.api.routes import admin_tokens, admin_workspace

lambda_handler = make_handler(*admin_workspace.ROUTERS, *admin_tokens.ROUTERS)
