"""Whatever a caller sends to an admin route, the answer is a typed SPEC error or a success, never
a 500 or a trace, and a malformed value is never echoed back (property tests over the bodies)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.admin.conftest import Team, make_team
from tests.lambdas.conftest import Env

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
FIELDS = {
    "settings": {"writeback_enabled": st.booleans() | JSON, "name": st.text(max_size=200) | JSON},
    "member_put": {"role": st.sampled_from(["owner", "admin", "member", "viewer", "root", ""]) | JSON},
    "token_create": {"user_id": st.text(max_size=140) | JSON, "scopes": st.lists(st.sampled_from(
        ["mcp:read", "mcp:write", "admin", "x"]), max_size=4) | JSON, "expires_in_days": st.integers() | JSON,
                     "label": st.text(max_size=80) | JSON},
    "profile_create": {"profile_id": st.text(max_size=140) | JSON, "name": st.text(max_size=140) | JSON,
                       "settings": st.fixed_dictionaries({}, optional={
                           "action_source": st.sampled_from(["website", "app", "bogus"]) | JSON,
                           "country": st.text(max_size=4) | JSON, "currency": st.text(max_size=4) | JSON,
                           "event_mapping": st.dictionaries(st.text(max_size=10), st.text(max_size=45),
                                                            max_size=3) | JSON}) | JSON},
    "profile_update": {"name": st.text(max_size=140) | JSON, "settings": JSON},
    "connection_put": {"pixel_id": st.from_regex(r"[0-9]{1,12}", fullmatch=True) | JSON,
                       "access_token": st.text(max_size=40) | JSON, "app_secret": st.text(max_size=20) | JSON,
                       "api_version": st.text(max_size=8) | JSON},
}
OK = {200, 401, 403, 404, 409, 422, 502, 504}
_teams: dict[int, Team] = {}


def _team(env: Env) -> Team:
    if id(env) not in _teams:
        _teams.clear()
        _teams[id(env)] = make_team(env)
    return _teams[id(env)]


def _body(route: str) -> st.SearchStrategy[dict[str, Any]]:
    fields = FIELDS[route]
    return (st.fixed_dictionaries({}, optional=fields)
            | st.dictionaries(st.text(max_size=20), JSON, max_size=3))


def _check(answer: Any, body: Any) -> None:
    assert answer.status in OK, answer.body
    if answer.status != 200:
        error = answer.body["error"]
        assert error["type"] and error["message"] and error["fix"]
        for value in (v for v in (body or {}).values() if isinstance(v, str) and len(v) > 12):
            if answer.status == 422 and error["type"] == "VALIDATION_ERROR":
                assert value not in json.dumps(error), "an input value was echoed back"


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(sorted(FIELDS)), data=st.data())
def test_admin_bodies_never_fail_untyped(env: Env, route: str, data: st.DataObject) -> None:
    team = _team(env)
    body = data.draw(_body(route))
    params: dict[str, str] = {}
    if route == "member_put":
        params["user_id"] = "fuzzed_user"
    if route in ("profile_update", "connection_put"):
        params["profile_id"] = team.profile_id
    _check(team["owner"].call(route, body, **params), body)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.text(max_size=60) | st.binary(max_size=30).map(lambda b: b.decode("latin-1")))
def test_unparsable_bodies_are_validation_errors(env: Env, raw: str) -> None:
    team = _team(env)
    answer = team["owner"].call("token_create", raw_body=raw)
    assert answer.status in (200, 404, 422), answer.body
