"""The confirm's idempotency lease follows the Lambda's remaining time (with a floor), over HTTP and
for direct invocations; without a Lambda context it stays 900 s."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from capi_writeback.rails.idempotency.ledger import LEASE_FLOOR_SECONDS, record_id

from tests.lambdas.conftest import Env, LambdaContext, conversion_rows, load_handler


@dataclass
class TimedContext(LambdaContext):
    remaining_ms: int = 0

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _lease(env: Env, profile_id: str, key: str) -> float:
    return float(env.get("IDEMPOTENCY_TABLE", {"id": record_id(profile_id, key)})["lease_expires_at"])


def _confirm_over_http(env: Env, context: Any, key: str) -> str:
    from tests.lambdas.conftest import proxy_event

    tenant = env.tenant()
    event = proxy_event("confirm", tenant.profile_id, {"rows": conversion_rows(3), "idempotency_key": key},
                        authorizer=tenant.authorizer)
    result = load_handler("confirm")(event, context)
    assert result["statusCode"] == 200, result["body"]
    return tenant.profile_id


@pytest.mark.parametrize(("remaining_s", "lease_s"), [(300, 300), (840, 840), (5, LEASE_FLOOR_SECONDS)])
def test_http_confirm_leases_the_key_for_the_remaining_time(env: Env, remaining_s: int, lease_s: int) -> None:
    context = TimedContext(aws_request_id="r", remaining_ms=remaining_s * 1000)
    profile_id = _confirm_over_http(env, context, "lease-1")
    assert _lease(env, profile_id, "lease-1") == pytest.approx(env.clock() + lease_s, abs=0.01)


def test_without_a_lambda_context_the_lease_is_900_seconds(env: Env) -> None:
    profile_id = _confirm_over_http(env, LambdaContext(aws_request_id="r"), "lease-2")
    assert _lease(env, profile_id, "lease-2") == pytest.approx(env.clock() + 900, abs=0.01)


def test_direct_confirm_leases_the_key_for_the_remaining_time(env: Env) -> None:
    tenant = env.tenant()
    event = {"profile_id": tenant.profile_id, "actor": tenant.user_id, "idempotency_key": "lease-3",
             "selection": {"rows": conversion_rows(2)}}
    result = load_handler("confirm")(event, TimedContext(aws_request_id="d", remaining_ms=600_000))
    assert result["status"] == "succeeded"
    assert _lease(env, tenant.profile_id, "lease-3") == pytest.approx(env.clock() + 600, abs=0.01)
