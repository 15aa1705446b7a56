"""POST /v1/profiles/{profile_id}/writeback/preview (also a direct Step Functions task)."""

from capi_writeback import flow
from capi_writeback.api.app import make_handler
from capi_writeback.api.direct import Direct
from capi_writeback.api.routes import writeback
from capi_writeback.contracts.writeback import PreviewRequest, PreviewResponse

lambda_handler = make_handler(writeback.PREVIEW,
                              direct=Direct(PreviewRequest, flow.preview, PreviewResponse))
