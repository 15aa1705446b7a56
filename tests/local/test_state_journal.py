"""state.py: what the --state journal keeps (successful changes, in order), what it leaves out
(reads, refusals, moto's controls), a torn tail after a crash, and a faithful replay."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from capi_writeback_local.stack import EmbeddedStack
from capi_writeback_local.state import Journal, StateInUse, is_read


@pytest.fixture
def forget_layer() -> Iterator[None]:
    from capi_writeback_local.stack import forget_layer_state

    forget_layer_state()
    yield
    forget_layer_state()


def client(stack: EmbeddedStack, service: str = "dynamodb") -> Any:
    return stack.client(service)


def targets(state: Path) -> list[str]:
    return [r["environ"].get("HTTP_X_AMZ_TARGET", r["environ"]["REQUEST_METHOD"])
            for r in Journal(state).records()]


def test_changes_are_journaled_reads_and_refusals_are_not(tmp_path: Path, forget_layer: None) -> None:
    state = tmp_path / "state"
    with EmbeddedStack(state_dir=state) as stack:
        created = len(targets(state))
        assert created >= 7  # the tables of the template (CreateTable, TTL, PITR)
        ddb = client(stack)
        table = stack.tables["BREAKER_TABLE"]
        ddb.put_item(TableName=table, Item={"profile_id": {"S": "p"}, "n": {"N": "1"}})
        ddb.get_item(TableName=table, Key={"profile_id": {"S": "p"}})
        ddb.query(TableName=table, KeyConditionExpression="profile_id = :p",
                  ExpressionAttributeValues={":p": {"S": "p"}})
        with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
            ddb.put_item(TableName=table, Item={"profile_id": {"S": "p"}},
                         ConditionExpression="attribute_not_exists(profile_id)")
        secrets = client(stack, "secretsmanager")
        secrets.create_secret(Name="capi-writeback/connections/p", SecretString='{"access_token": "t"}')
        secrets.get_secret_value(SecretId="capi-writeback/connections/p")
        assert [t.rsplit(".", 1)[-1] for t in targets(state)[created:]] == ["PutItem", "CreateSecret"]


def test_a_restart_replays_everything_in_order(tmp_path: Path, forget_layer: None) -> None:
    state = tmp_path / "state"
    with EmbeddedStack(state_dir=state) as stack:
        ddb = client(stack)
        table = stack.tables["AUDIT_TABLE"]
        for i in range(30):
            ddb.put_item(TableName=table, Item={"profile_id": {"S": "p"}, "sk": {"S": f"{i:03d}"},
                                                "v": {"N": str(i)}})
        ddb.update_item(TableName=table, Key={"profile_id": {"S": "p"}, "sk": {"S": "007"}},
                        UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "700"}})
        ddb.delete_item(TableName=table, Key={"profile_id": {"S": "p"}, "sk": {"S": "003"}})
        client(stack, "secretsmanager").create_secret(Name="kept", SecretString="v1")
        client(stack, "secretsmanager").put_secret_value(SecretId="kept", SecretString="v2")
        before = ddb.query(TableName=table, KeyConditionExpression="profile_id = :p",
                           ExpressionAttributeValues={":p": {"S": "p"}})["Items"]
    with EmbeddedStack(state_dir=state) as stack:
        assert stack.restored > 30
        after = client(stack).query(TableName=table, KeyConditionExpression="profile_id = :p",
                                    ExpressionAttributeValues={":p": {"S": "p"}})["Items"]
        assert after == before and len(after) == 29
        assert client(stack, "secretsmanager").get_secret_value(SecretId="kept")["SecretString"] == "v2"
    with EmbeddedStack() as stack:  # without --state: in memory, nothing restored
        assert stack.restored == 0
        assert client(stack).query(TableName=table, KeyConditionExpression="profile_id = :p",
                                   ExpressionAttributeValues={":p": {"S": "p"}})["Items"] == []


def test_a_torn_last_record_is_cut_off(tmp_path: Path) -> None:
    journal = Journal(tmp_path).open()
    journal.append({"n": 1})
    journal.append({"n": 2})
    journal.close()
    with journal.path.open("ab") as file:
        file.write(b"\x00\x00\x01\x00garbage")  # a crash in the middle of a write
    again = Journal(tmp_path).open()
    assert [r["n"] for r in again.records()] == [1, 2]
    again.append({"n": 3})
    assert [r["n"] for r in again.records()] == [1, 2, 3]
    again.close()
    corrupted = bytearray(journal.path.read_bytes())
    corrupted[-2] ^= 0xFF  # a damaged record fails its CRC: it and what follows are not replayed
    journal.path.write_bytes(bytes(corrupted))
    assert [r["n"] for r in Journal(tmp_path).records()] == [1, 2]


def test_one_server_per_state(tmp_path: Path) -> None:
    holder = Journal(tmp_path).open()
    with pytest.raises(StateInUse):
        Journal(tmp_path).open()
    holder.close()
    Journal(tmp_path).open().close()


def test_concurrent_changes_are_all_kept(tmp_path: Path, forget_layer: None) -> None:
    state = tmp_path / "state"
    with EmbeddedStack(state_dir=state) as stack:
        table = stack.tables["AUDIT_TABLE"]

        def write(n: int) -> None:
            ddb = boto3.client("dynamodb", endpoint_url=stack.endpoint_url, region_name="us-east-1",
                               aws_access_key_id="t", aws_secret_access_key="t")
            for i in range(20):
                ddb.put_item(TableName=table, Item={"profile_id": {"S": "c"}, "sk": {"S": f"{n}-{i}"}})

        threads = [threading.Thread(target=write, args=(n,)) for n in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    with EmbeddedStack(state_dir=state) as stack:
        items = client(stack).query(TableName=table, KeyConditionExpression="profile_id = :p",
                                    ExpressionAttributeValues={":p": {"S": "c"}})["Items"]
        assert len(items) == 100


@pytest.mark.parametrize(("environ", "read"), [
    ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.Query"}, True),
    ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.BatchGetItem"}, True),
    ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.TransactWriteItems"}, False),
    ({"HTTP_X_AMZ_TARGET": "secretsmanager.GetSecretValue"}, True),
    ({"HTTP_X_AMZ_TARGET": "secretsmanager.PutSecretValue"}, False),
    ({"REQUEST_METHOD": "GET", "PATH_INFO": "/bucket/key"}, True),
    ({"REQUEST_METHOD": "PUT", "PATH_INFO": "/bucket/key"}, False),
    ({"REQUEST_METHOD": "POST", "PATH_INFO": "/moto-api/reset"}, True),
    ({"HTTP_X_AMZ_TARGET": "AWSStepFunctions.StartExecution"}, True),  # not replayed: see state.py
    ({"HTTP_X_AMZ_TARGET": "AWSStepFunctions.CreateStateMachine"}, False),
    ({"REQUEST_METHOD": "POST", "QUERY_STRING": "Action=SendMessage"}, False),
    ({"REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/x-www-form-urlencoded",
      "_capi_body": b"Action=GetQueueUrl&QueueName=q"}, True),
])
def test_what_counts_as_a_read(environ: dict[str, Any], read: bool) -> None:
    assert is_read(environ) is read


def test_the_journal_is_json_records_readable_by_its_owner_only(tmp_path: Path) -> None:
    journal = Journal(tmp_path).open()
    assert journal.path.stat().st_mode & 0o777 == 0o600
    journal.append({"environ": {"REQUEST_METHOD": "PUT"}, "body": ""})
    journal.close()
    assert json.loads(journal.path.read_bytes()[8:]) == {"environ": {"REQUEST_METHOD": "PUT"}, "body": ""}


def test_a_restart_ends_the_leases_of_the_confirms_that_died_with_the_process(tmp_path: Path,
                                                                              forget_layer: None) -> None:
    from capi_writeback_local.state import expire_dead_leases

    with EmbeddedStack(state_dir=tmp_path / "state") as stack:
        ddb, table = client(stack), stack.tables["IDEMPOTENCY_TABLE"]
        for record, status in (("confirm#p#running", "INPROGRESS"), ("confirm#p#done", "COMPLETED"),
                               ("event#px#running", "INPROGRESS")):
            ddb.put_item(TableName=table, Item={"id": {"S": record}, "status": {"S": status},
                                                "owner": {"S": "dead"}, "lease_expires_at": {"N": "5000"}})
        assert expire_dead_leases(ddb, table, 1000.0) == 1

        def lease(record: str) -> str:
            item = ddb.get_item(TableName=table, Key={"id": {"S": record}})["Item"]
            return str(item["lease_expires_at"]["N"])

        assert (lease("confirm#p#running"), lease("confirm#p#done"), lease("event#px#running")) == \
            ("1000.0", "5000", "5000")  # only the confirm that was running; other ledgers keep theirs


def test_a_restart_keeps_the_sync_exports_and_ends_the_runs_that_died_with_the_process(
        tmp_path: Path, forget_layer: None) -> None:
    """Executions are not journaled (a replay would run a sync again): a run that was going when the
    process died is failed at the next start, its sync unlocked for the next run."""
    from capi_writeback.syncs.persistence.dynamodb import DynamoRunStore, DynamoSyncStore

    state = tmp_path / "state"
    with EmbeddedStack(state_dir=state) as stack:
        s3, bucket = client(stack, "s3"), stack.sync_env["SYNC_EXPORT_BUCKET"]
        s3.put_object(Bucket=bucket, Key="orders/export.csv", Body=b"order_id\n1\n")
        syncs, runs = DynamoSyncStore(client=client(stack)), DynamoRunStore(client=client(stack))
        syncs.create({"profile_id": "p", "sync_id": "s", "version": 1, "name": "n"})
        assert syncs.lock_run("p", "s", "run_1", until=2e9, now=1e9) is None
        runs.create_run({"sync_id": "s", "run_id": "run_1", "profile_id": "p", "status": "running",
                         "mode": "dry_run", "started_at": "2026-12-02T10:00:00.000Z", "ttl": 4e9})
        runs.create_run({"sync_id": "s", "run_id": "run_0", "profile_id": "p", "status": "succeeded",
                         "mode": "dry_run", "started_at": "2026-12-02T09:00:00.000Z", "ttl": 4e9})
        assert not any("StartExecution" in t for t in targets(state))
    with EmbeddedStack(state_dir=state) as stack:
        body = client(stack, "s3").get_object(Bucket=bucket, Key="orders/export.csv")["Body"].read()
        assert body == b"order_id\n1\n"
        machines = client(stack, "stepfunctions").list_state_machines()["stateMachines"]
        assert [m["stateMachineArn"] for m in machines] == [stack.sync_env["SYNC_STATE_MACHINE_ARN"]]
        syncs, runs = DynamoSyncStore(client=client(stack)), DynamoRunStore(client=client(stack))
        ended = runs.get_run("s", "run_1")
        assert ended is not None and ended["status"] == "failed"
        assert "stopped during the run" in ended["error"]["message"]
        assert runs.get_run("s", "run_0")["status"] == "succeeded"  # type: ignore[index]
        sync = syncs.get("p", "s")
        assert sync is not None and "active_run" not in sync
        assert sync["last_run"]["run_id"] == "run_1" and sync["last_run"]["status"] == "failed"
        assert syncs.lock_run("p", "s", "run_2", until=2e9, now=1e9) is None  # the next run may start
