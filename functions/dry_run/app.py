"""POST /v1/profiles/{profile_id}/writeback/dry-run (also a direct Step Functions task)."""

from capi_writeback import flow
from capi_writeback.api import routes
from capi_writeback.api.app import make_handler
from capi_writeback.contracts import DryRunRequest, DryRunResponse

lambda_handler = make_handler(routes.register_dry_run,
                              direct=(DryRunRequest, flow.dry_run, DryRunResponse))
