"""API tokens: issue one (returned once, stored as its SHA-256), list them, revoke one.

A token acts as a member of the workspace with at most its scopes, never more than the member's
role allows. Only owners and admins hold the `admin` scope. An admin issues and revokes tokens for
itself, members and viewers; an owner for anyone. Revocation deletes the item the authorizer reads,
and the authorizer caches nothing (template: ReauthorizeEvery 0): the next request with the token
is refused, whatever Lambda container answers it.
"""

from __future__ import annotations

import secrets
from typing import Any

from capi_writeback.auth import ADMIN_ROLES, ADMIN_SCOPE, token_hash
from capi_writeback.contracts.admin import TokenCreate
from capi_writeback.exceptions import InvalidRequest, MemberNotFound, TokenNotFound
from capi_writeback.flow.admin.access import (
    admin_directory,
    at_workspace,
    change,
    require_outranks,
    workspace_access,
)
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call, Note, audited
from capi_writeback.store.directory.base import public_token, token_item

TOKEN_PREFIX = "cwb_"
DAY = 86400


def new_token() -> str:
    """An opaque bearer token: 256 random bits, URL-safe (matches the API's ValidationExpression)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(call: Call, request: TokenCreate, services: Services | None = None) -> dict[str, Any]:
    """Issue a token for a member; the only response that ever carries a token."""
    services = services or default_services()
    call = at_workspace(call)

    def body(note: Note) -> dict[str, Any]:
        access = workspace_access(services, call, note)
        change(note, user_id=request.user_id, scopes=list(request.scopes))
        role = services.directory.get_member_role(access.workspace_id, request.user_id)
        if role is None:
            raise MemberNotFound(fix="Add the user with PUT /v1/workspace/members/{user_id} first.")
        require_outranks(access, request.user_id, role, "issue tokens")
        if ADMIN_SCOPE in request.scopes and role not in ADMIN_ROLES:
            raise InvalidRequest("Only owners and admins can hold the admin scope.",
                                 fix="Leave out the admin scope, or give the user the admin role first.",
                                 details=[{"field": "scopes", "message": f"the user's role is {role}"}])
        token = new_token()
        now = services.clock()
        item = token_item(token_hash(token), workspace_id=access.workspace_id, user_id=request.user_id,
                          scopes=request.scopes, expires_at=int(now) + request.expires_in_days * DAY,
                          created_at=now, created_by=call.principal.user_id, label=request.label)
        admin_directory(services).create_token(item)
        change(note, token_id=item["token_id"], expires_at=item["expires_at"])
        return {**public_token(item), "operation": "token_create", "request_id": call.request_id,
                "token": token}

    return audited(services, call, "token_create", body)


def list_tokens(call: Call, services: Services | None = None) -> dict[str, Any]:
    """The workspace's unexpired tokens (ids, users, scopes, expiry): never a token or its hash."""
    services = services or default_services()
    access = workspace_access(services, call)
    items = admin_directory(services).list_tokens(access.workspace_id)
    return {"items": [public_token(item) for item in items]}


def revoke_token(call: Call, token_id: str, services: Services | None = None) -> dict[str, Any]:
    """Revoke a token at once (its item is deleted; the authorizer reads it on every request)."""
    services = services or default_services()
    call = at_workspace(call)

    def body(note: Note) -> dict[str, Any]:
        access = workspace_access(services, call, note)
        change(note, token_id=token_id)
        directory = admin_directory(services)
        item = directory.find_token(access.workspace_id, token_id)
        if item is None:
            raise TokenNotFound()
        user_id = str(item["user_id"])
        change(note, user_id=user_id)
        require_outranks(access, user_id, services.directory.get_member_role(access.workspace_id, user_id),
                         "revoke tokens")
        if not directory.delete_token(str(item["token_hash"]), access.workspace_id):
            raise TokenNotFound()  # revoked by someone else meanwhile
        return {"operation": "token_revoke", "request_id": call.request_id, "token_id": token_id,
                "user_id": user_id, "revoked": True}

    return audited(services, call, "token_revoke", body)
