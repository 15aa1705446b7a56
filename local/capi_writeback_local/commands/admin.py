"""`capi-writeback admin bootstrap`: the first workspace, its owner and a first owner token.

Runs with the caller's AWS credentials (there is no API token yet to call the API with), against a
deployed stack (`--stack NAME`: the table names are the stack's outputs) or the tables named in the
environment (`--tables-from-env`: WORKSPACES_TABLE, TOKENS_TABLE, PROFILES_TABLE, AUDIT_TABLE, e.g.
an embedded stack's). Prints one JSON object on stdout; the token in it is shown this once (only its
SHA-256 is stored). Running it again with the same workspace name creates nothing and says so
(`"created": false`, exit 0). Exit 2: bad arguments or tables not found; 1: AWS refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

TABLE_OUTPUTS = {"WORKSPACES_TABLE": "WorkspacesTableName", "TOKENS_TABLE": "TokensTableName",
                 "PROFILES_TABLE": "ProfilesTableName", "AUDIT_TABLE": "AuditTableName"}


class Unusable(Exception):
    """The command cannot run as asked (exit 2, the message says why)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="admin_command", required=True)
    boot = sub.add_parser("bootstrap", help="create the first workspace, its owner and an owner token",
                          description=__doc__.split("\n\n")[1] if __doc__ else None)
    boot.add_argument("--workspace-name", required=True,
                      help="the workspace's name (its id is derived from it)")
    boot.add_argument("--owner", required=True, metavar="USER_ID",
                      help="the owner's user id (letters, digits, . _ : -; not an e-mail address)")
    where = boot.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", metavar="STACK", help="a deployed stack: table names from its outputs")
    where.add_argument("--tables-from-env", action="store_true",
                       help="table names from WORKSPACES_TABLE, TOKENS_TABLE, PROFILES_TABLE, AUDIT_TABLE")
    boot.add_argument("--region", default=None, help="AWS region (default: your AWS configuration's)")
    boot.add_argument("--token-days", type=int, default=90, help="days until the token expires (1-365)")


def _stack_outputs(stack: str, region: str | None) -> dict[str, str]:
    import boto3

    client = boto3.client("cloudformation", region_name=region)
    try:
        stacks = client.describe_stacks(StackName=stack)["Stacks"]
    except client.exceptions.ClientError as exc:
        raise Unusable(f"stack {stack!r} not found: {exc.response['Error'].get('Message', '')}") from None
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs") or []}


def _tables(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, str]]:
    """{env var: table name} and the stack's other outputs (ApiUrl, DashboardUrl) when known."""
    if args.tables_from_env:
        missing = [name for name in TABLE_OUTPUTS if not os.environ.get(name)]
        if missing:
            raise Unusable("set " + ", ".join(missing) + " (or use --stack)")
        return {name: os.environ[name] for name in TABLE_OUTPUTS}, {}
    outputs = _stack_outputs(args.stack, args.region)
    missing = [key for key in TABLE_OUTPUTS.values() if key not in outputs]
    if missing:
        raise Unusable(f"stack {args.stack!r} has no output " + ", ".join(missing)
                       + ": is it capi-writeback's?")
    return {name: outputs[key] for name, key in TABLE_OUTPUTS.items()}, outputs


def run(args: argparse.Namespace) -> int:
    from capi_writeback.flow.admin.bootstrap import bootstrap

    try:
        tables, outputs = _tables(args)
        result = _bootstrap(bootstrap, tables, args)
    except (Unusable, ValueError) as exc:
        print(f"capi-writeback admin bootstrap: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # AWS said no (credentials, permissions, region...): say so, no trace
        print(f"capi-writeback admin bootstrap: AWS refused: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    out: dict[str, Any] = {"created": result.created, "workspace_id": result.workspace_id,
                           "workspace_name": result.workspace_name, "owner": result.owner}
    if result.created:
        out.update({"token": result.token, **(result.token_info or {}), "writeback_enabled": False})
    for key, name in (("ApiUrl", "api_url"), ("DashboardUrl", "dashboard_url")):
        if key in outputs:
            out[name] = outputs[key]
    print(json.dumps(out), flush=True)
    if result.created:
        print(f"capi-writeback admin bootstrap: workspace {result.workspace_id} created with owner "
              f"{result.owner}; write-back is off. The token above is shown this once: keep it safe.",
              file=sys.stderr)
    else:
        print(f"capi-writeback admin bootstrap: workspace {result.workspace_id} exists: nothing was created. "
              "Issue more tokens with POST /v1/tokens.", file=sys.stderr)
    return 0


def _bootstrap(bootstrap: Any, tables: dict[str, str], args: argparse.Namespace) -> Any:
    import time

    import boto3
    from capi_writeback.rails.audit.log import AuditLog
    from capi_writeback.rails.audit.persistence.dynamodb import DynamoAuditStore
    from capi_writeback.store.directory.dynamodb import DynamoDirectoryStore

    dynamodb = boto3.client("dynamodb", region_name=args.region)
    directory = DynamoDirectoryStore(tables["WORKSPACES_TABLE"], tables["TOKENS_TABLE"],
                                     tables["PROFILES_TABLE"], client=dynamodb)
    audit = AuditLog(DynamoAuditStore(tables["AUDIT_TABLE"], client=dynamodb))
    return bootstrap(directory, audit, time.time, name=args.workspace_name, owner=args.owner,
                     token_days=args.token_days)
