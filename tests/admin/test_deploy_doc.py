"""docs/deploy.md's path from zero, run as written against the embedded stack: bootstrap with the
CLI, then only API calls (profile, Meta connection, write-back on, the first push, members, tokens,
quality, the workspace trail). Only what needs real AWS is replaced: `sam deploy` is skipped, the
stack's ApiUrl output is the local API's URL, `--stack` is `--tables-from-env` (the embedded stack's
tables are in the environment), and the Meta token is the emulator's."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from capi_writeback_local.local_api import LocalApi

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
END = "<<<END>>>"


def _values(text: str) -> list[Any]:
    """Every JSON value printed in a block's output, in order."""
    decoder, values, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        if text[at] in "{[":
            value, at = decoder.raw_decode(text, at)
            values.append(value)
        else:
            at += 1
    return values


@pytest.fixture(scope="module")
def api() -> Iterator[LocalApi]:
    from tests.local.test_local_api import _forget_cached_aws

    _forget_cached_aws()
    try:
        with LocalApi() as running:
            yield running
    finally:
        _forget_cached_aws()


def test_deploy_doc_from_zero(api: LocalApi, tmp_path: Path) -> None:
    section = DOC[DOC.index("## From zero to a first push"):DOC.index("## Administration reference")]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 6 and "sam deploy --guided" in blocks[0]
    replaced = [
        (r'BASE=\$\(aws cloudformation describe-stacks .*?--output text\)', f"BASE={api.url}"),
        (r'--stack "\$STACK"', "--tables-from-env"),
        (r'read -rsp "Meta access token: " META_TOKEN; echo; export META_TOKEN',
         f"export META_TOKEN={api.meta_token}"),
        (r'bootstrap\.json', str(tmp_path / "bootstrap.json")),
    ]
    script = ["set -eu"]
    for block in blocks[1:]:
        for pattern, value in replaced:
            block, _count = re.subn(pattern, value.replace("\\", "\\\\"), block, flags=re.DOTALL)
        script += [line for line in block.splitlines() if not line.lstrip().startswith("#")]
        script.append(f'echo "{END}"')
    # then: the bootstrap again (creates nothing), and bob's token revoked is refused at once
    script += [
        '.venv/bin/capi-writeback admin bootstrap --tables-from-env --workspace-name "Acme" --owner alice',
        f'echo "{END}"',
    ]
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=ROOT, capture_output=True, text=True,
                          timeout=240)
    parts = done.stdout.split(END)
    assert done.returncode == 0 and len(parts) == 7, done.stdout + done.stderr
    bootstrapped = json.loads((tmp_path / "bootstrap.json").read_text())
    assert bootstrapped["created"] is True and bootstrapped["workspace_id"] == "ws_acme"
    assert bootstrapped["scopes"] == ["admin", "mcp:read", "mcp:write"]
    assert bootstrapped["writeback_enabled"] is False
    assert "shown this once" in done.stderr

    (workspace,) = _values(parts[0])
    assert workspace["workspace_id"] == "ws_acme" and workspace["writeback_enabled"] is False
    assert workspace["you"] == {"user_id": "alice", "role": "owner",
                                "scopes": ["admin", "mcp:read", "mcp:write"]}

    profile, connected = _values(parts[1])
    assert profile["operation"] == "profile_create" and profile["profile_id"] == "acme-shop"
    assert connected["connection"]["status"] == "active"
    assert connected["connection"]["pixel_id"] == "1234567890"
    assert api.meta_token not in parts[1]

    (settings,) = _values(parts[2])
    assert settings["writeback_enabled"] is True

    stored, preview, dry_run, confirm = _values(parts[3])
    assert stored == {"stored": 1, "rejected": []}
    assert preview["event_count"] == 1 and preview["events_by_name"] == {"Purchase": 1}
    assert dry_run["events_received"] == 1 and dry_run["test_event_code"] == "TEST12345"
    assert confirm["status"] == "succeeded" and confirm["events_received"] == 1
    assert len(api.emulator.received_events("1234567890")) == 1

    assert f"Dashboard: {api.url}/v1/dashboard" in parts[4]
    member, token, quality, trail = _values(parts[4])
    assert member["role"] == "member" and member["previous_role"] is None
    assert token["user_id"] == "bob" and token["token"].startswith("cwb_")
    assert quality["ours"]["pushes"] == 1 and quality["ours"]["events"] == 1
    assert quality["meta"]["events"][0]["event_name"] == "Purchase"
    operations = [row["operation"] for row in trail["items"]]
    assert operations == ["token_create", "member_put", "workspace_settings", "profile_create", "bootstrap"]

    (again,) = _values(parts[5])
    assert again == {"created": False, "workspace_id": "ws_acme", "workspace_name": "Acme", "owner": "alice"}
    assert "nothing was created" in done.stderr


def test_revoked_token_is_refused_at_once_through_the_gateway(api: LocalApi) -> None:
    """The local API Gateway runs the template's authorizer (warm containers, no cache)."""
    import urllib.error
    import urllib.request

    def call(method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(api.url + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    owner = api.seed.api_token
    status, created = call("POST", "/v1/tokens", owner, {"user_id": api.seed.user_id, "scopes": ["mcp:read"]})
    assert status == 200, created
    assert call("GET", "/v1/workspace", created["token"])[0] == 200
    assert call("GET", "/v1/workspace", created["token"])[0] == 200  # the authorizer is warm now
    assert call("DELETE", f"/v1/tokens/{created['token_id']}", owner)[0] == 200
    status, refused = call("GET", "/v1/workspace", created["token"])
    assert (status, refused["error"]["type"]) == (401, "UNAUTHENTICATED")
