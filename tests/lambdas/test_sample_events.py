"""The sample events in events/ (for `sam local invoke`) work with the handlers on a seeded demo."""

from __future__ import annotations

import json

import pytest

from tests.lambdas.conftest import META_TOKEN, PIXEL_ID, ROOT, Env, LambdaContext, load_handler


def _event(name: str) -> dict[str, object]:
    event: dict[str, object] = json.loads((ROOT / "events" / f"{name}.json").read_text())
    return event


def test_every_sample_event_is_answered(env: Env) -> None:
    from capi_writeback_local.stack import seed_demo

    seed_demo(env.dynamodb, env.secrets, env.tables, pixel_id=PIXEL_ID, meta_token=META_TOKEN)
    for name in ("conversions", "preview", "dry_run", "confirm", "audit", "breaker_reset", "docs"):
        result = load_handler(name)(_event(name), LambdaContext(aws_request_id=f"sample-{name}"))
        assert result["statusCode"] == 200, (name, result["body"])
    with pytest.raises(Exception, match="Unauthorized"):  # the sample's token is a placeholder
        load_handler("authorizer")(_event("authorizer"), None)
