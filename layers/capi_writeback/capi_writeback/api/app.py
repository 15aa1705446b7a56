"""The Lambda entry point shared by every HTTP function, and its error boundary.

`make_handler(router, ..., direct=Direct(...))` gives a `lambda_handler(event, context)` that
- answers API Gateway proxy events through a Powertools resolver including only the given
  operations' routers;
- with `direct`, also answers a direct invocation (Step Functions: no `requestContext`/`httpMethod`),
  see `api.direct`;
- turns every exception into a SPEC §3.3 error body (`errors.to_api_error`: INTERNAL only for the
  unexpected, never a trace), and audits a malformed request of an audited operation like any
  other refusal;
- sets the API Gateway request id as the log correlation id and flushes metrics once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import ValidationException
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from capi_writeback import flow
from capi_writeback import observability as obs
from capi_writeback.api import direct as direct_invocation
from capi_writeback.api.errors import validation_error
from capi_writeback.api.request import RequestEvent, as_json_request, is_http, json_body, request_id_of
from capi_writeback.api.routes.operation import OperationRouter
from capi_writeback.errors import ApiError, to_api_error
from capi_writeback.exceptions import InvalidRequest, Unauthenticated

LambdaHandler = Callable[[Any, Any], dict[str, Any]]
Extra = Callable[[APIGatewayRestResolver], None]


class Resolver(APIGatewayRestResolver):
    """Powertools' REST resolver, keeping the request it resolves on itself.

    Powertools stores the current event and Lambda context on a class attribute shared by every
    resolver of the process (`BaseRouter.current_event`): fine in Lambda (one request per process at
    a time), but two requests served at once (the local server, threads in tests) would read each
    other's caller. Each thread has its own resolver (`make_handler`), so keeping them per instance
    makes concurrent requests independent.
    """

    @property  # type: ignore[override]
    def current_event(self) -> BaseProxyEvent:
        try:
            event: BaseProxyEvent = self.__dict__["_event"]
        except KeyError:
            raise AttributeError("no request is being resolved") from None
        return event

    @current_event.setter
    def current_event(self, event: BaseProxyEvent) -> None:
        self.__dict__["_event"] = event

    @property  # type: ignore[override]
    def lambda_context(self) -> Any:
        return self.__dict__.get("_lambda_context")

    @lambda_context.setter
    def lambda_context(self, context: Any) -> None:
        self.__dict__["_lambda_context"] = context

    def _to_proxy_event(self, event: dict[str, Any]) -> BaseProxyEvent:
        """Every body is read by `RequestEvent` (strict UTF-8, base64 or not): once, for every route."""
        return RequestEvent(event, self._json_body_deserializer)

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        # super() sets the same onto BaseRouter (the class): every read in here comes to this instance.
        self.current_event = self._to_proxy_event(dict(event))
        self.lambda_context = context
        return super().resolve(event, context)


def build_resolver(routers: tuple[OperationRouter, ...], *extras: Extra) -> APIGatewayRestResolver:
    """A resolver serving the routers' routes (and `extras`, e.g. the docs), with the SPEC errors."""
    app = Resolver(enable_validation=True, json_body_deserializer=json_body)
    for router in routers:
        app.include_router(router)
    for extra in extras:
        extra(app)
    operation_of = {handler: router for router in routers for handler in router.handlers}

    def respond(error: ApiError) -> Response[str]:
        request_id = request_id_of(app.current_event.raw_event)
        return Response(status_code=error.status, content_type="application/json",
                        body=json.dumps(error.body(request_id)), headers=error.headers)

    def _validation(exc: ValidationException) -> Response[str]:
        invalid = validation_error(exc.errors())
        # Powertools keeps the matched route in its context from matching on (its validation reads it).
        handler = getattr(app.context.get("_route"), "func", None)
        router = operation_of.get(handler) if handler is not None else None
        if router is not None and router.audited:
            _audit_refused(router, app, invalid)
        obs.logger.info("request invalid", extra={"error_type": "VALIDATION_ERROR",
                                                  "fields": [d["field"] for d in invalid.details]})
        return respond(to_api_error(invalid))

    def _not_found(exc: NotFoundError) -> Response[str]:
        return respond(ApiError.of("NOT_FOUND"))

    def _refused(exc: Exception) -> Response[str]:
        error = to_api_error(exc)
        if error.type == "INTERNAL":
            obs.logger.exception("unexpected error", extra={"error_class": type(exc).__name__})
        else:
            obs.logger.info("request refused", extra={"error_type": error.type, "status": error.status})
        return respond(error)

    app.exception_handler(ValidationException)(_validation)
    app.exception_handler(NotFoundError)(_not_found)
    app.exception_handler(Exception)(_refused)
    return app


def _audit_refused(router: OperationRouter, app: APIGatewayRestResolver, error: InvalidRequest) -> None:
    """A malformed request of an audited operation is a refused operation: audit it like any other
    (when the caller is known and the profile is theirs: `flow.record_refusal`)."""
    profile_id = (app.current_event.raw_event.get("pathParameters") or {}).get("profile_id")
    if not profile_id:
        return
    try:
        call = router.call(str(profile_id))
    except Unauthenticated:
        return
    flow.record_refusal(flow.default_services(), call, router.operation, error)


def make_handler(*routers: OperationRouter, extras: tuple[Extra, ...] = (),
                 direct: direct_invocation.Direct | None = None) -> LambdaHandler:
    """The function's `lambda_handler`, serving the routes of `routers` (`direct`: one router only).

    Lambda runs one request per process at a time, but the local server and the tests call a handler
    from many threads, and a Powertools resolver keeps the current event on itself: so each thread
    gets its own resolver (built on its first request), and the routers are bound to it before each
    request (`OperationRouter.serve`).
    """
    if direct is not None and len(routers) != 1:
        raise ValueError("a direct invocation serves exactly one operation")
    local = threading.local()

    def resolver() -> APIGatewayRestResolver:
        app: APIGatewayRestResolver | None = getattr(local, "app", None)
        if app is None:
            app = local.app = build_resolver(routers, *extras)
        for router in routers:
            router.serve(app)
        return app

    def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
        try:
            if direct is not None and not is_http(event):
                return direct_invocation.invoke(direct, routers[0].operation, event, context)
            request_id = request_id_of(event)
            obs.logger.set_correlation_id(request_id)
            try:
                return resolver().resolve(as_json_request(event), context)
            except Exception as exc:  # the event itself is unusable (not a proxy event)
                obs.logger.exception("cannot resolve event", extra={"error_class": type(exc).__name__})
                error = to_api_error(exc)
                return {"statusCode": error.status, "headers": {"Content-Type": "application/json"},
                        "body": json.dumps(error.body(request_id)), "isBase64Encoded": False}
        finally:
            obs.flush()

    lambda_handler.resolver = resolver  # type: ignore[attr-defined]
    return lambda_handler
