"""Every log line of a full flow (including failures) is free of raw PII and of both tokens."""

from __future__ import annotations

import logging

import pytest

from tests.lambdas.conftest import META_TOKEN, Env, LambdaContext, conversion_rows, load_handler

EMAIL = "Jane.Doe+vip@Example.COM"
PHONE = "+1 (415) 555-0199"
SECRETS_THAT_MUST_NOT_APPEAR = [EMAIL, EMAIL.lower().strip(), "jane.doe", "4155550199", "555-0199",
                                "Jane", "Doe", "Springfield", META_TOKEN]


def _row(i: int) -> dict[str, object]:
    row = conversion_rows(1, start=i)[0]
    row.update({"conversion_id": f"pii-{i}", "email": EMAIL, "phone": PHONE, "first_name": "Jane",
                "last_name": "Doe", "city": "Springfield"})
    return row


def test_full_flow_logs_no_pii_and_no_token(env: Env, capfd: pytest.CaptureFixture[str],
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = env.tenant()
    rows = [_row(i) for i in range(3)]
    with pytest.raises(Exception, match="Unauthorized"):
        load_handler("authorizer")({"type": "TOKEN", "authorizationToken": "Bearer " + tenant.token + "x",
                                    "methodArn": "arn:aws:execute-api:us-east-1:1:a/Prod/GET/x"}, None)
    load_handler("authorizer")({"type": "TOKEN", "authorizationToken": f"Bearer {tenant.token}",
                                "methodArn": "arn:aws:execute-api:us-east-1:1:a/Prod/GET/x"}, None)
    assert tenant.call("conversions", {"rows": rows}).status == 200
    preview = tenant.call("preview", {"last_days": 7}).body
    assert preview["event_count"] == 3
    assert tenant.call("dry_run", {"last_days": 7}).status == 200
    assert tenant.call("confirm", {"last_days": 7, "idempotency_key": "pii-1"}).status == 200
    assert tenant.call("confirm", {"last_days": 7, "idempotency_key": "pii-1"}).body["replayed"] is True
    assert tenant.call("preview", {"rows": rows, "outcome_types": [EMAIL]}).status == 422
    assert tenant.call("preview", {"rows": [{**rows[0], "occurred_at": "garbage " + EMAIL}]}).status == 200
    junk = {**rows[0], "email": "Jane.Doe at home", "phone": "Jane's cell 555-0199", "zip": "Springfield"}
    junk_preview = tenant.call("preview", {"rows": [junk]})
    assert junk_preview.status == 200 and junk_preview.body["warnings"]
    for secret in ("Jane", "555-0199", "Springfield"):
        assert secret not in str(junk_preview.body), secret
    load_handler("preview")({"profile_id": tenant.profile_id, "actor": tenant.user_id,
                             "selection": {"rows": rows}}, LambdaContext(aws_request_id="d1"))
    env.emulator.inject("code_190")
    assert tenant.call("confirm", {"rows": [_row(9)], "idempotency_key": "pii-2"}).status == 502
    env.emulator.clear_faults()
    assert tenant.call("audit").status == 200

    out, err = capfd.readouterr()
    captured = "\n".join([out, err, caplog.text, *(r.getMessage() for r in caplog.records),
                          *(repr(r.__dict__) for r in caplog.records)])
    assert "audit row written" in captured and "confirm finished" in captured  # logs were captured
    assert tenant.token not in captured
    for secret in SECRETS_THAT_MUST_NOT_APPEAR:
        assert secret not in captured, secret
    # nor at rest: the audit rows and the stored conversions
    stored = repr(env.audit_rows(tenant.profile_id)) + repr(env.dynamodb.scan(
        TableName=env.tables["CONVERSIONS_TABLE"])["Items"])
    for secret in SECRETS_THAT_MUST_NOT_APPEAR:
        assert secret not in stored, secret


def test_skip_details_and_warnings_name_the_field_never_the_value(
        env: Env, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """An email typed into the wrong column reaches neither responses, stored confirm results, the
    audit trail nor the logs through a skip detail or a warning (`unknown outcome_type 'jane@...'`)."""
    caplog.set_level(logging.DEBUG)
    tenant = env.tenant()
    tenant.set_writeback(True)
    good = _row(0)
    wrong = [{**_row(i), field: EMAIL} for i, field in enumerate(
        ("outcome_type", "event_name", "action_source", "occurred_at", "value", "currency", "num_items",
         "contents", "content_ids", "event_source_url", "fbclid", "client_ip_address", "fbc", "gender",
         "data_processing_options_country", "app_data"), start=1)]
    wrong.append({**_row(99), "outcome_type": "lead_created", "value": EMAIL, "Jane.Doe@example.com": 1})
    rows = [good, *wrong]
    bodies = [tenant.call("conversions", {"rows": rows}).body, tenant.call("preview", {"rows": rows}).body]
    first = tenant.call("confirm", {"rows": rows, "idempotency_key": "echo-1"})
    replay = tenant.call("confirm", {"rows": rows, "idempotency_key": "echo-1"})
    assert first.status == 200 and replay.body["replayed"] is True, first.body
    bodies += [first.body, replay.body]
    assert sum(len(b.get("skipped", b.get("rejected", []))) for b in bodies) >= 10
    for body in bodies:
        for listed in body.get("skipped", []) + body.get("rejected", []):
            assert EMAIL not in str(listed.get("detail")), listed
        text = str({k: v for k, v in body.items() if k != "sample_events"})
        assert EMAIL not in text and "Jane.Doe@example.com" not in text
    out, err = capfd.readouterr()
    trail = str(env.audit_rows(tenant.profile_id))
    for text in (out, err, caplog.text, trail):
        assert EMAIL not in text and "Jane.Doe@example.com" not in text
