"""What API Gateway is configured with, read from template.yaml so the local API cannot drift.

`ApiDefinition.from_template()` reads the REST API (stage), every function's `Api` event on it
(method, path, whether the default TOKEN authorizer guards it), the authorizer's function and its
identity check (header and ValidationExpression), and the `GatewayResponses`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capi_writeback_local.cfn_template import DEFAULT_TEMPLATE, load_template, resources_of_type


@dataclass(frozen=True)
class Route:
    """One API method: the path template as API Gateway's resource and the function behind it."""

    method: str
    resource: str
    function: str
    authorized: bool = True

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when `path` fits this resource, else None."""
        pattern = re.sub(r"\\\{([A-Za-z_][A-Za-z0-9_]*)\\\}", r"(?P<\1>[^/]+)", re.escape(self.resource))
        found = re.fullmatch(pattern, path)
        return None if found is None else found.groupdict()


@dataclass(frozen=True)
class GatewayResponse:
    """A gateway response as the template declares it (status, static headers, body template)."""

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    template: str | None = None


@dataclass(frozen=True)
class ApiDefinition:
    """What API Gateway is configured with: routes, stage, the TOKEN authorizer, gateway responses."""

    routes: tuple[Route, ...]
    stage: str = "prod"
    authorizer_function: str = "authorizer"
    identity_header: str = "Authorization"
    identity_pattern: str | None = None
    gateway_responses: Mapping[str, GatewayResponse] = field(default_factory=dict)

    @classmethod
    def from_template(cls, path: str | Path = DEFAULT_TEMPLATE) -> ApiDefinition:
        """Read the REST API, its functions' Api events and its authorizer from template.yaml."""
        template = load_template(path)
        resources: dict[str, Any] = template.get("Resources") or {}
        api_id, api = next(iter(resources_of_type(template, "AWS::Serverless::Api").items()))
        props = api.get("Properties") or {}
        auth = props.get("Auth") or {}
        default_authorizer = auth.get("DefaultAuthorizer")
        routes: list[Route] = []
        for resource in resources_of_type(template, "AWS::Serverless::Function").values():
            for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
                event_props = event.get("Properties") or {}
                if event.get("Type") != "Api" or (event_props.get("RestApiId") or {}).get("Ref") != api_id:
                    continue
                authorizer = (event_props.get("Auth") or {}).get("Authorizer", default_authorizer)
                routes.append(Route(str(event_props["Method"]).upper(), str(event_props["Path"]),
                                    _function_name(resource),
                                    authorized=bool(authorizer) and authorizer != "NONE"))
        authorizer_function, header, pattern = "authorizer", "Authorization", None
        if default_authorizer:
            spec = (auth.get("Authorizers") or {})[default_authorizer]
            target = (spec.get("FunctionArn") or {}).get("Fn::GetAtt", [""])[0]
            authorizer_function = _function_name(resources[target])
            identity = spec.get("Identity") or {}
            header = str(identity.get("Header") or header)
            pattern = identity.get("ValidationExpression")
        responses = {
            name: GatewayResponse(
                status=int(value["StatusCode"]) if value.get("StatusCode") else None,
                headers={k: str(v).strip("'") for k, v in
                         ((value.get("ResponseParameters") or {}).get("Headers") or {}).items()},
                template=(value.get("ResponseTemplates") or {}).get("application/json"),
            )
            for name, value in (props.get("GatewayResponses") or {}).items()
        }
        return cls(routes=tuple(routes), stage=_resolve(template, props.get("StageName"), "prod"),
                   authorizer_function=authorizer_function, identity_header=header,
                   identity_pattern=pattern, gateway_responses=responses)

    def route(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        """The route `method path` reaches and its path parameters; (None, {}) when none does.
        Methods are case-sensitive (RFC 9110 §9.1): `get` is not GET."""
        path = path.rstrip("/") or "/"
        for route in self.routes:
            if route.method == method:
                params = route.match(path)
                if params is not None:
                    return route, params
        return None, {}


def _function_name(resource: Mapping[str, Any]) -> str:
    """functions/<name>/ -> <name> (an API function must live in its own folder to be served)."""
    code_uri = (resource.get("Properties") or {}).get("CodeUri")
    if not code_uri:
        raise ValueError("an API function without CodeUri cannot be served locally")
    return Path(str(code_uri)).name


def _resolve(template: Mapping[str, Any], value: Any, default: str) -> str:
    if isinstance(value, Mapping) and "Ref" in value:
        parameter = (template.get("Parameters") or {}).get(value["Ref"]) or {}
        return str(parameter.get("Default", default))
    return str(value) if value else default
