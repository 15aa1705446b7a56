"""GET /v1/dashboard (no authorizer): the dashboard page; its API calls carry the user's token."""

from pathlib import Path

from capi_writeback.api.dashboard import dashboard_handler

lambda_handler = dashboard_handler(Path(__file__).resolve().parent / "page")
