"""`capi-writeback admin bootstrap`: the first workspace, owner and token; idempotent by name; table
names from a stack's outputs or the environment; clear exits when it cannot run."""

from __future__ import annotations

import json
import os

import boto3
import pytest
from capi_writeback.auth import token_hash
from capi_writeback.flow.admin.bootstrap import bootstrap, workspace_id_for
from capi_writeback.rails.audit.log import AuditLog
from capi_writeback.rails.audit.persistence.memory import MemoryAuditStore
from capi_writeback.store.directory.memory import MemoryDirectoryStore
from capi_writeback_local.cli import main

from tests.lambdas.conftest import Env

TABLES = ("WORKSPACES_TABLE", "TOKENS_TABLE", "PROFILES_TABLE", "AUDIT_TABLE")


def test_bootstrap_creates_once_and_then_finds_it() -> None:
    directory, store = MemoryDirectoryStore(clock=lambda: 1_800_000_000), MemoryAuditStore()
    made = bootstrap(directory, AuditLog(store), lambda: 1_800_000_000, name="Acme Corp", owner="alice",
                     token_days=30)
    assert made.created and made.workspace_id == "ws_acme-corp" and made.token and "***" in repr(made)
    stored = directory.get_token(token_hash(made.token))
    assert stored is not None and stored["scopes"] == ["admin", "mcp:read", "mcp:write"]
    assert stored["expires_at"] == 1_800_000_000 + 30 * 86400 and stored["user_id"] == "alice"
    assert directory.get_member_role("ws_acme-corp", "alice") == "owner"
    assert directory.get_workspace_settings("ws_acme-corp")["writeback_enabled"] is False  # type: ignore[index]
    (row,) = store.query("workspace#ws_acme-corp", 10, None)
    assert (row["operation"], row["via"], row["actor"]) == ("bootstrap", "cli", "alice")
    assert made.token not in json.dumps(row)
    again = bootstrap(directory, AuditLog(store), lambda: 1_800_000_000, name="  acme CORP ", owner="bob")
    assert not again.created and again.token is None and again.workspace_id == made.workspace_id
    assert directory.get_member_role("ws_acme-corp", "bob") is None
    assert len(directory.tokens) == 1 and len(store.query("workspace#ws_acme-corp", 10, None)) == 1


def test_workspace_ids_from_names() -> None:
    assert workspace_id_for("Café Olé!") == "ws_cafe-ole"
    assert workspace_id_for("東京") == workspace_id_for(" 東京 ")
    assert workspace_id_for("東京").startswith("ws_")
    assert len(workspace_id_for("x" * 128)) <= 51


@pytest.mark.parametrize("kwargs", [{"name": "", "owner": "alice"},
                                    {"name": "A", "owner": "alice@example.com"},
                                    {"name": "A", "owner": "alice", "token_days": 0}])
def test_bootstrap_refuses_bad_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        bootstrap(MemoryDirectoryStore(), AuditLog(MemoryAuditStore()), lambda: 0.0, **kwargs)  # type: ignore[arg-type]


def test_cli_without_table_names_exits_2(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    for name in TABLES:
        monkeypatch.delenv(name, raising=False)
    code = main(["admin", "bootstrap", "--tables-from-env", "--workspace-name", "Acme", "--owner", "alice"])
    assert code == 2 and "set WORKSPACES_TABLE" in capsys.readouterr().err


def test_cli_with_a_stacks_outputs(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = {"WorkspacesTableName": "WORKSPACES_TABLE", "TokensTableName": "TOKENS_TABLE",
               "ProfilesTableName": "PROFILES_TABLE", "AuditTableName": "AUDIT_TABLE"}
    template = {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},  # moto needs one resource
                "Outputs": {key: {"Value": os.environ[var]} for key, var in outputs.items()}
                | {"ApiUrl": {"Value": "https://abc.execute-api.us-east-1.amazonaws.com/prod"}}}
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="capi-writeback-test", TemplateBody=json.dumps(template))
    args = ["admin", "bootstrap", "--stack", "capi-writeback-test", "--workspace-name", "Stacked",
            "--owner", "carol", "--region", "us-east-1"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    made = json.loads(out)
    assert made["created"] is True and made["workspace_id"] == "ws_stacked"
    assert made["token"].startswith("cwb_")
    assert made["api_url"].endswith("/prod") and "shown this once" in err
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again == {"created": False, "workspace_id": "ws_stacked", "workspace_name": "Stacked",
                     "owner": "carol", "api_url": "https://abc.execute-api.us-east-1.amazonaws.com/prod"}
    assert main(["admin", "bootstrap", "--stack", "no-such-stack", "--workspace-name", "X", "--owner", "x",
                 "--region", "us-east-1"]) == 2
    assert "no-such-stack" in capsys.readouterr().err
    assert main(["admin", "bootstrap", "--tables-from-env", "--workspace-name", "Y", "--owner", "a@b.c"]) == 2
