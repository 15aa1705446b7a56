"""What every route module shares: the Router of one operation, the profile id path parameter and
the documented error responses."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter, Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel

from capi_writeback.api.request import deadline_of
from capi_writeback.auth import Principal
from capi_writeback.contracts.common import PROFILE_ID_MAX_LENGTH, PROFILE_ID_PATTERN, ErrorBody
from capi_writeback.flow import Call, default_services

F = TypeVar("F", bound=Callable[..., Any])

ProfileId = Annotated[str, Path(min_length=1, max_length=PROFILE_ID_MAX_LENGTH, pattern=PROFILE_ID_PATTERN,
                                description="The profile (one tracked business/site).")]
COMMON = (401, 403, 404, 409, 422, 500)
# What API Gateway answers itself on any route, in the same error body (template.yaml's
# GatewayResponses): a request it cannot parse, a body over its 10 MB limit, stage throttling, and
# the 29-second integration timeout (the function carries on).
GATEWAY = {
    400: "VALIDATION_ERROR (a request the gateway cannot parse)",
    401: "UNAUTHENTICATED (no, malformed or unknown bearer token: the authorizer refuses it)",
    404: "NOT_FOUND (no such route)",
    413: "VALIDATION_ERROR (the request is larger than 10 MB)",
    429: "THROTTLED",
    504: "GATEWAY_TIMEOUT (no answer within 29 seconds; the request is still processed)",
}


class OperationRouter(Router):
    """A Powertools Router holding the route(s) of one operation, named as the audit trail names it.

    Each Lambda includes only its own operation's router, the docs function includes them all (the
    OpenAPI document comes from the very functions that serve the API). `audited`: a refused
    request of this operation, a malformed one included, leaves an audit row.

    Route functions read the request through their router (`current_event`), which Powertools
    points at the resolver that included it. One module-level router is included by several
    resolvers (one per thread, see `api.app.make_handler`, and the docs function's), so the
    resolver it reads is kept per thread and bound by `serve(resolver)` before every invocation.
    """

    def __init__(self, operation: str, *, audited: bool = False) -> None:
        self._bound = threading.local()
        super().__init__()  # type: ignore[no-untyped-call]
        self.operation = operation
        self.audited = audited
        self.handlers: set[Callable[..., Any]] = set()

    @property  # type: ignore[override]
    def api_resolver(self) -> BaseRouter | None:
        resolver: BaseRouter | None = getattr(self._bound, "resolver", None)
        return resolver

    @api_resolver.setter
    def api_resolver(self, resolver: BaseRouter | None) -> None:
        self._bound.resolver = resolver

    def serve(self, resolver: BaseRouter) -> None:
        """Route functions on this thread read the request of `resolver` from now on."""
        self.api_resolver = resolver

    def route(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:  # type: ignore[override]
        register = super().route(*args, **kwargs)

        def remember(func: F) -> F:
            self.handlers.add(func)
            return register(func)

        return remember

    def call(self, profile_id: str) -> Call:
        """The flow's view of the request being served: principal (authorizer context), request id,
        and the invocation's deadline (from the Lambda context)."""
        context = self.current_event.raw_event.get("requestContext") or {}
        return Call(principal=Principal.from_authorizer(context.get("authorizer")),
                    profile_id=profile_id, request_id=context.get("requestId"),
                    deadline=deadline_of(self.lambda_context, default_services().clock))


def responses(ok: type[BaseModel], *statuses: int) -> dict[int, Any]:
    """A route's responses for the OpenAPI document: the 200 model, the SPEC error types of each of
    `statuses` the function answers with, and what the gateway answers itself (`GATEWAY`)."""
    from capi_writeback.errors import ERRORS

    out: dict[int, Any] = {200: {"description": "OK", "content": {"application/json": {"model": ok}}}}
    for status in sorted(set(statuses) | set(GATEWAY)):
        types = sorted(t for t, spec in ERRORS.items() if spec.status == status and t not in _GATEWAY_ONLY)
        described = types if status in statuses else []
        if status in GATEWAY and GATEWAY[status].split()[0] not in described:
            described.append(GATEWAY[status])
        out[status] = {"description": " / ".join(described) or "error",
                       "content": {"application/json": {"model": ErrorBody}}}
    return out


_GATEWAY_ONLY = ("GATEWAY_TIMEOUT", "THROTTLED")  # never answered by a function
