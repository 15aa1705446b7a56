"""POST /v1/profiles/{profile_id}/writeback/dry-run (also a direct Step Functions task)."""

from capi_writeback import flow
from capi_writeback.api.app import make_handler
from capi_writeback.api.direct import Direct
from capi_writeback.api.routes import writeback
from capi_writeback.contracts.writeback import DryRunRequest, DryRunResponse

lambda_handler = make_handler(writeback.DRY_RUN,
                              direct=Direct(DryRunRequest, flow.dry_run, DryRunResponse))
