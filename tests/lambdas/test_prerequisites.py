"""The four prerequisites on every step, first unmet one returned; PROFILE_NOT_FOUND; UNAUTHENTICATED."""

from __future__ import annotations

import pytest

from tests.lambdas.conftest import Env, conversion_rows

STEPS = ("preview", "dry_run", "confirm")


def _body(step: str) -> dict[str, object]:
    body: dict[str, object] = {"rows": conversion_rows(2)}
    if step == "confirm":
        body["idempotency_key"] = "k-1"
    return body


@pytest.mark.parametrize("step", STEPS)
def test_missing_scope(env: Env, step: str) -> None:
    tenant = env.tenant(scopes="mcp:read")
    response = tenant.call(step, _body(step))
    assert (response.status, response.error_type) == (403, "MISSING_SCOPE")
    assert response.body["error"]["fix"]
    assert response.body["error"]["request_id"].startswith("req-")


@pytest.mark.parametrize("step", STEPS)
def test_writeback_disabled(env: Env, step: str) -> None:
    tenant = env.tenant()
    tenant.set_writeback(False)
    response = tenant.call(step, _body(step))
    assert (response.status, response.error_type) == (403, "WRITEBACK_DISABLED")


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("role", ["member", "viewer", None])
def test_insufficient_role(env: Env, step: str, role: str | None) -> None:
    tenant = env.tenant()
    if role is None:
        tenant.user_id = "stranger"  # a token of this workspace whose user is no member
    else:
        tenant.set_role(role)
    response = tenant.call(step, _body(step))
    assert (response.status, response.error_type) == (403, "INSUFFICIENT_ROLE")


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("status", ["inactive", "expired"])
def test_meta_connection_inactive(env: Env, step: str, status: str) -> None:
    tenant = env.tenant()
    tenant.set_connection(status=status)
    response = tenant.call(step, _body(step))
    assert (response.status, response.error_type) == (409, "META_CONNECTION_INACTIVE")
    assert env.emulator.ledger() == []


def test_admin_role_is_enough(env: Env) -> None:
    tenant = env.tenant(role="admin")
    assert tenant.call("preview", _body("preview")).status == 200


@pytest.mark.parametrize("step", STEPS)
def test_profile_not_found_unknown_or_other_workspace(env: Env, step: str) -> None:
    tenant, other = env.tenant(), env.tenant()
    unknown = tenant.call(step, _body(step), profile_id="prof_nope")
    assert (unknown.status, unknown.error_type) == (404, "PROFILE_NOT_FOUND")
    foreign = tenant.call(step, _body(step), profile_id=other.profile_id)
    assert (foreign.status, foreign.error_type) == (404, "PROFILE_NOT_FOUND")
    # nothing was written to the other workspace's audit trail
    assert env.audit_rows(other.profile_id) == []


def test_first_unmet_prerequisite_wins(env: Env) -> None:
    tenant = env.tenant(scopes="mcp:read")
    tenant.set_writeback(False)
    tenant.set_role("member")
    tenant.set_connection(status="inactive")
    order = ["MISSING_SCOPE", "WRITEBACK_DISABLED", "INSUFFICIENT_ROLE", "META_CONNECTION_INACTIVE"]
    fixes = [lambda: setattr(tenant, "scopes", "mcp:write"), lambda: tenant.set_writeback(True),
             lambda: tenant.set_role("owner"), lambda: tenant.set_connection(status="active")]
    for expected, fix in zip(order, fixes, strict=True):
        assert tenant.call("confirm", _body("confirm")).error_type == expected
        fix()
    assert tenant.call("confirm", _body("confirm")).status == 200


def test_no_authorizer_context_is_unauthenticated(env: Env) -> None:
    tenant = env.tenant()
    response = tenant.call("preview", _body("preview"), authorizer=False)
    assert (response.status, response.error_type) == (401, "UNAUTHENTICATED")


@pytest.mark.parametrize("step", STEPS)
def test_an_active_connection_without_a_secret_is_inactive(env: Env, step: str) -> None:
    """No secret_id: nothing can be sent. Confirm once claimed the key, counted a breaker failure and
    answered 500 (KeyError) instead of refusing up front."""
    tenant = env.tenant()
    tenant.set_connection(secret_id=None)
    response = tenant.call(step, _body(step))
    assert (response.status, response.error_type) == (409, "META_CONNECTION_INACTIVE"), response.body
    from capi_writeback.flow import default_services

    assert not default_services().breaker.store.get(tenant.profile_id).failures


@pytest.mark.parametrize("settings", [{"event_mapping": "x"}, {"column_mapping": [1]}, "weird"])
def test_odd_stored_settings_are_ignored_not_a_500(env: Env, settings: object) -> None:
    tenant = env.tenant()
    item = tenant.profile_item()
    item["settings"] = settings
    env.put("PROFILES_TABLE", item)
    for step in STEPS:
        response = tenant.call(step, _body(step))
        assert response.status == 200, (step, response.body)
