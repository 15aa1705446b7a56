"""POST/GET .../syncs/{sync_id}/runs, GET .../runs/{run_id} and .../runs/{run_id}/rows (SPEC §10)."""

from capi_writeback.api.app import make_handler
from capi_writeback.api.routes import syncs

lambda_handler = make_handler(*syncs.RUNS)
