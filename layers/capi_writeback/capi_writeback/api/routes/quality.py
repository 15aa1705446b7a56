"""The match quality route (SPEC §11.3): Meta's Dataset Quality for the profile's pixel beside our
own pre-send counts of the recent pushes."""

from __future__ import annotations

from capi_writeback.api.routes.operation import COMMON, OperationRouter, ProfileId, responses
from capi_writeback.contracts.quality import QualityReport
from capi_writeback.flow.admin import quality

QUALITY = OperationRouter("quality")


@QUALITY.get("/v1/profiles/<profile_id>/quality",
             summary="Meta's Event Match Quality per event name beside our pre-send great/good/weak",
             tags=["quality"], responses=responses(QualityReport, *COMMON, 504))
def get_quality(profile_id: ProfileId) -> QualityReport:
    return QualityReport.model_validate(quality.match_quality(QUALITY.call(profile_id)))
