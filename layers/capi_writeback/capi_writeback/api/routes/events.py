"""The single-event route (SPEC §8): one event, sent now (test or live), exactly once when live."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from capi_writeback import flow
from capi_writeback.api import markdown
from capi_writeback.api.routes.operation import COMMON, OperationRouter, ProfileId, responses
from capi_writeback.contracts.events import SendEventRequest, SendEventResponse

SEND = OperationRouter("send_event", audited=True)


def _responses() -> dict[int, Any]:
    documented = responses(SendEventResponse, *COMMON, 502, 503, 504)
    documented[200]["content"][markdown.MARKDOWN] = {"schema": {"type": "string"}}
    documented[200]["description"] = "OK (JSON, or a markdown summary with response_format markdown)"
    return documented


@SEND.post("/v1/profiles/<profile_id>/events",
           summary="Send one event now: test (test_event_code) or live, exactly once per event_id",
           tags=["events"], responses=_responses())
def send_event(profile_id: ProfileId, request: Annotated[SendEventRequest, Body()]) -> Any:
    # `Any`: the 200 answer is the JSON model or markdown text (`_responses` documents both); a
    # union with Powertools' Response cannot be a pydantic type.
    result = SendEventResponse.model_validate(flow.send_event(SEND.call(profile_id), request))
    if request.response_format == "markdown":
        return Response(status_code=200, content_type=markdown.MARKDOWN,
                        body=markdown.send_event(result.model_dump(mode="json")))
    return result
