"""Sync definitions over the API: validated on save, scheduled with EventBridge Scheduler (moto),
audited, and switched to live by owners and admins only."""

from __future__ import annotations

import json
from typing import Any

from .conftest import MAPPING, World


def _details(answer: Any) -> dict[str, str]:
    assert answer.status == 422 and answer.error_type == "VALIDATION_ERROR", answer.body
    return {d["field"]: d["message"] for d in answer.body["error"]["details"]}


def test_create_read_list_update_delete(world: World) -> None:
    tenant = world.tenant()
    created = tenant.create(name="orders", test_event_code="TESTSYNC1")
    sync_id = created["sync_id"]
    assert created["mode"] == "dry_run" and created["version"] == 1 and created["enabled"] is True
    assert created["created_by"] == tenant.user_id and created["running_run"] is None
    assert tenant.call("GET", f"/syncs/{sync_id}").body["name"] == "orders"
    assert [s["sync_id"] for s in tenant.call("GET", "/syncs").body["items"]] == [sync_id]
    changed = tenant.call("PATCH", f"/syncs/{sync_id}", {"name": "orders v2"})
    assert changed.status == 200 and changed.body["version"] == 2 and changed.body["mode"] == "dry_run"
    deleted = tenant.call("DELETE", f"/syncs/{sync_id}")
    assert deleted.status == 200 and deleted.body["deleted"] is True
    missing = tenant.call("GET", f"/syncs/{sync_id}")
    assert (missing.status, missing.error_type) == (404, "SYNC_NOT_FOUND")
    operations = sorted((r["operation"], r["status"]) for r in tenant.audit())
    assert operations == [
        ("sync_create", "succeeded"),
        ("sync_delete", "succeeded"),
        ("sync_update", "succeeded"),
    ]
    assert all(r["payload_hash"].startswith("sha256:") for r in tenant.audit())


def test_a_save_names_every_problem_and_saves_nothing(world: World) -> None:
    tenant = world.tenant()
    body = {
        "name": "bad",
        "source": {"type": "s3", "uri": "s3://no-such-export-bucket/x/", "format": "csv"},
        "mapping": {"emial": {"column": "mail"}, "event_name": {"column": "event"}},
        "primary_key": "order_id",
        "schedule": "every 15 minutes",
    }
    details = _details(tenant.call("POST", "/syncs", body))
    assert "unknown target 'emial'" in details["mapping.emial"]
    assert "required" in details["mapping.occurred_at"]
    assert "no customer identifier" in details["mapping"]
    assert "rate(" in details["schedule"]
    assert "does not exist" in details["source.uri"]  # a real ListObjectsV2 under the function's role
    assert tenant.call("GET", "/syncs").body["items"] == []
    assert [(r["operation"], r["status"], r["error"]["type"]) for r in tenant.audit()] == [
        ("sync_create", "refused", "VALIDATION_ERROR")
    ]


def test_a_malformed_body_is_a_typed_422_and_audited(world: World) -> None:
    tenant = world.tenant()
    answer = tenant.call("POST", "/syncs", {"name": "x", "source": {"type": "ftp"}, "mapping": {}, "nope": 1})
    fields = _details(answer)
    assert {"source", "nope", "mapping", "primary_key"} <= {f.split(".")[0] for f in fields}
    assert [(r["operation"], r["status"]) for r in tenant.audit()] == [("sync_create", "refused")]


def test_a_new_sync_starts_in_dry_run_and_needs_a_test_code(world: World) -> None:
    tenant = world.tenant(test_event_code=None)  # the connection has no default code
    refused = tenant.call(
        "POST",
        "/syncs",
        {
            "name": "x",
            "mode": "live",
            "source": {"type": "s3", "uri": tenant.uri(), "format": "csv"},
            "mapping": MAPPING,
            "primary_key": "order_id",
        },
    )
    assert "mode" in _details(refused)
    details = _details(
        tenant.call(
            "POST",
            "/syncs",
            {
                "name": "x",
                "source": {"type": "s3", "uri": tenant.uri(), "format": "csv"},
                "mapping": MAPPING,
                "primary_key": "order_id",
            },
        )
    )
    assert "test_event_code" in details["test_event_code"]
    assert tenant.create(test_event_code="TESTSYNC2")["mode"] == "dry_run"


def test_only_owners_and_admins_switch_to_live_or_touch_a_live_sync(world: World) -> None:
    tenant = world.tenant()
    member, admin, viewer = tenant.member("member"), tenant.member("admin"), tenant.member("viewer")
    body = {
        "name": "m",
        "source": {"type": "s3", "uri": tenant.uri(), "format": "csv"},
        "mapping": MAPPING,
        "primary_key": "order_id",
    }
    created = tenant.call("POST", "/syncs", body, user_id=member)
    assert created.status == 201, created.body  # members may set up and edit dry-run syncs
    sync_id = created.body["sync_id"]
    refused = tenant.call("PATCH", f"/syncs/{sync_id}", {"mode": "live"}, user_id=member)
    assert (refused.status, refused.error_type) == (403, "INSUFFICIENT_ROLE"), refused.body
    assert "live" in refused.body["error"]["message"]
    assert tenant.call("PATCH", f"/syncs/{sync_id}", {"mode": "live"}, user_id=admin).status == 200
    for method, change in (("PATCH", {"name": "renamed"}), ("DELETE", None)):
        answer = tenant.call(method, f"/syncs/{sync_id}", change, user_id=member)
        assert answer.error_type == "INSUFFICIENT_ROLE", (method, answer.body)
    assert tenant.call("GET", f"/syncs/{sync_id}", user_id=viewer, scopes="mcp:read").status == 200
    written = tenant.call("POST", "/syncs", body, user_id=viewer)
    assert written.error_type in ("MISSING_SCOPE", "INSUFFICIENT_ROLE")
    assert (
        tenant.call("POST", "/syncs", body, user_id=viewer, scopes="mcp:read").error_type == "MISSING_SCOPE"
    )
    statuses = [
        (r["operation"], r["actor"], r["status"]) for r in tenant.audit() if r["operation"] == "sync_update"
    ]
    assert (("sync_update", member, "refused") in statuses) and (
        ("sync_update", admin, "succeeded") in statuses
    )


def test_another_workspace_cannot_see_or_touch_a_sync(world: World) -> None:
    owner, stranger = world.tenant(), world.tenant()
    sync_id = owner.create(test_event_code="TESTSYNC3")["sync_id"]
    answer = world.call(
        "GET", f"/v1/profiles/{owner.profile_id}/syncs/{sync_id}", authorizer=stranger.authorizer()
    )
    assert (answer.status, answer.error_type) == (404, "PROFILE_NOT_FOUND")
    other = stranger.call("GET", f"/syncs/{sync_id}")
    assert (other.status, other.error_type) == (404, "SYNC_NOT_FOUND")


def _schedule(world: World, sync_id: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = world.scheduler.get_schedule(
            Name=f"cwb-sync-{sync_id}", GroupName=world.sync_env["SYNC_SCHEDULE_GROUP"]
        )
    except world.scheduler.exceptions.ResourceNotFoundException:
        return None
    return found


def test_the_schedule_is_created_updated_and_deleted_with_the_sync(world: World) -> None:
    tenant = world.tenant()
    created = tenant.create(schedule="rate(15 minutes)")
    sync_id = created["sync_id"]
    schedule = _schedule(world, sync_id)
    assert schedule is not None and created["schedule_arn"] == schedule["Arn"]
    assert schedule["ScheduleExpression"] == "rate(15 minutes)" and schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"] == world.sync_env["SYNC_STATE_MACHINE_ARN"]
    assert schedule["Target"]["RoleArn"] == world.sync_env["SYNC_SCHEDULER_ROLE_ARN"]
    assert json.loads(schedule["Target"]["Input"]) == {
        "sync_id": sync_id,
        "profile_id": tenant.profile_id,
        "trigger": "schedule",
    }
    tenant.call("PATCH", f"/syncs/{sync_id}", {"schedule": "cron(0/30 * * * ? *)", "enabled": False})
    schedule = _schedule(world, sync_id)
    assert schedule is not None
    assert (schedule["ScheduleExpression"], schedule["State"]) == ("cron(0/30 * * * ? *)", "DISABLED")
    removed = tenant.call("PATCH", f"/syncs/{sync_id}", {"schedule": None})
    assert removed.body["schedule"] is None and removed.body["schedule_arn"] is None
    assert _schedule(world, sync_id) is None
    tenant.call("PATCH", f"/syncs/{sync_id}", {"schedule": "rate(1 hour)"})
    assert _schedule(world, sync_id) is not None
    tenant.call("DELETE", f"/syncs/{sync_id}")
    assert _schedule(world, sync_id) is None


def test_an_athena_source_names_the_stack_workgroup_and_a_readable_output(world: World) -> None:
    tenant = world.tenant()
    athena = {
        "type": "athena",
        "query": "SELECT * FROM conversions",
        "workgroup": "analysts",
        "output": "s3://no-such-results-bucket/athena/",
    }
    details = _details(
        tenant.call(
            "POST", "/syncs", {"name": "a", "source": athena, "mapping": MAPPING, "primary_key": "order_id"}
        )
    )
    assert "primary" in details["source.workgroup"] and "does not exist" in details["source.output"]
    good = {**athena, "workgroup": "primary", "output": tenant.uri("athena/")}
    assert tenant.create(source=good)["source"]["type"] == "athena"
