"""Who is calling, and may they do this: bearer tokens and the SPEC §3.3 prerequisites.

The authorizer turns a bearer token into a `Principal` (workspace, user, scopes); the handlers get
it back from the authorizer context. Every write-back step then checks, in this order, and returns
the first unmet one: MISSING_SCOPE (mcp:write), PROFILE_NOT_FOUND (unknown profile or another
workspace's), WRITEBACK_DISABLED, INSUFFICIENT_ROLE (owner/admin), META_CONNECTION_INACTIVE.
PROFILE_NOT_FOUND comes before the checks that need the profile, and before the workspace checks, so
a caller cannot probe other workspaces' profile ids through different refusals.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from capi_writeback.exceptions import (
    ConnectionInactive,
    InsufficientRole,
    MissingScope,
    ProfileNotFound,
    Unauthenticated,
    WritebackDisabled,
)

if TYPE_CHECKING:  # the authorizer's cold start loads no store module
    from capi_writeback.store.directory.base import DirectoryReader as Directory

WRITE_SCOPE = "mcp:write"
READ_SCOPE = "mcp:read"
# The administration API (workspace settings, members, tokens, profiles, connections) needs this
# scope on top of the owner or admin role; reading profiles and match quality takes any scope.
ADMIN_SCOPE = "admin"
SCOPES = frozenset({READ_SCOPE, WRITE_SCOPE, ADMIN_SCOPE})
ANY_SCOPE = (READ_SCOPE, WRITE_SCOPE, ADMIN_SCOPE)
ADMIN_ROLES = frozenset({"owner", "admin"})
WRITER_ROLES = frozenset({"owner", "admin", "member"})
ROLES = ("owner", "admin", "member", "viewer")  # highest first
ALL_ROLES = frozenset(ROLES)


def token_hash(token: str) -> str:
    """The only form in which a bearer token is stored or looked up: its SHA-256 hex digest."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(header: str | None) -> str | None:
    """The token of an 'Authorization: Bearer <token>' header value, or None if absent/malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `scopes` is None for direct invocations (no token, no scope check)."""

    workspace_id: str | None
    user_id: str
    scopes: frozenset[str] | None

    @classmethod
    def from_authorizer(cls, context: Mapping[str, Any] | None) -> Principal:
        """Rebuild the principal from requestContext.authorizer (values are strings there)."""
        context = context or {}
        workspace_id = context.get("workspace_id")
        user_id = context.get("user_id")
        if not (isinstance(workspace_id, str) and workspace_id and isinstance(user_id, str) and user_id):
            raise Unauthenticated()
        scopes = context.get("scopes") or ""
        if isinstance(scopes, str):
            scope_set = frozenset(scopes.split())
        else:
            scope_set = frozenset(str(s) for s in scopes)
        return cls(workspace_id=workspace_id, user_id=user_id, scopes=scope_set)

    @classmethod
    def actor(cls, user_id: str) -> Principal:
        """A direct (Step Functions) invocation on behalf of `user_id`: workspace from the profile."""
        return cls(workspace_id=None, user_id=user_id, scopes=None)

    def authorizer_context(self) -> dict[str, str]:
        """The context an API Gateway authorizer returns (strings only)."""
        return {
            "workspace_id": self.workspace_id or "",
            "user_id": self.user_id,
            "scopes": " ".join(sorted(self.scopes or ())),
        }


def principal_for_token(directory: Directory, token: str | None, now: float) -> Principal | None:
    """The principal of a bearer token, or None when it is missing, unknown or expired."""
    if not token:
        return None
    item = directory.get_token(token_hash(token))
    if not item:
        return None
    expires_at = item.get("expires_at")
    if expires_at is not None and float(expires_at) <= now:
        return None
    workspace_id, user_id = item.get("workspace_id"), item.get("user_id")
    if not workspace_id or not user_id:
        return None
    scopes = item.get("scopes") or ()
    if isinstance(scopes, str):
        scopes = scopes.split()
    return Principal(workspace_id=str(workspace_id), user_id=str(user_id),
                     scopes=frozenset(str(s) for s in scopes))


@dataclass(frozen=True)
class Access:
    """What the checks established: the profile (as stored), its workspace and the caller's role."""

    principal: Principal
    profile: Mapping[str, Any]
    workspace_id: str
    role: str | None

    @property
    def profile_id(self) -> str:
        return str(self.profile["profile_id"])

    @property
    def connection(self) -> Mapping[str, Any]:
        connection = self.profile.get("connection")
        return connection if isinstance(connection, Mapping) else {}


def find_profile(directory: Directory, principal: Principal, profile_id: str) -> Mapping[str, Any] | None:
    """The profile if it exists and belongs to the caller's workspace (any workspace for an actor)."""
    profile = directory.get_profile(profile_id)
    if not profile:
        return None
    if principal.workspace_id is not None and profile.get("workspace_id") != principal.workspace_id:
        return None
    return profile


def require_scope(principal: Principal, scopes: Iterable[str]) -> None:
    """MISSING_SCOPE unless the token carries one of `scopes` (direct invocations have no token)."""
    if principal.scopes is None:
        return
    wanted = tuple(scopes)
    if not any(s in principal.scopes for s in wanted):
        if WRITE_SCOPE in wanted:
            raise MissingScope()
        raise MissingScope(f"The API token lacks the {' or '.join(wanted)} scope.",
                           fix=f"Create a token with the {wanted[0]} scope and retry.")


def require_member(directory: Directory, principal: Principal, *, scopes: Iterable[str],
                   roles: frozenset[str]) -> str:
    """A workspace-level operation's prerequisites, in SPEC order: MISSING_SCOPE, then
    INSUFFICIENT_ROLE (the caller's role in the token's workspace). Returns that role."""
    require_scope(principal, scopes)
    role = directory.get_member_role(principal.workspace_id or "", principal.user_id) \
        if principal.workspace_id else None
    if role not in roles:
        raise InsufficientRole() if roles == ADMIN_ROLES else InsufficientRole(
            "You are not a member of this workspace.",
            fix="Ask an owner or admin to add you with PUT /v1/workspace/members/{user_id}.")
    assert role is not None
    return role


def check_access(
    directory: Directory,
    principal: Principal,
    profile_id: str,
    *,
    scopes: Iterable[str] = (WRITE_SCOPE,),
    roles: frozenset[str] = ADMIN_ROLES,
    writeback: bool = True,
    connection: bool = True,
    profile: Mapping[str, Any] | None = None,
) -> Access:
    """Run the prerequisites in SPEC order; return the established access or raise the first refusal.

    `profile` may be passed when the caller already looked it up (it must come from `find_profile`).
    """
    require_scope(principal, scopes)
    if profile is None:
        profile = find_profile(directory, principal, profile_id)
    if profile is None:
        raise ProfileNotFound()
    workspace_id = str(profile.get("workspace_id"))
    if writeback:
        settings = directory.get_workspace_settings(workspace_id) or {}
        if settings.get("writeback_enabled") is not True:
            raise WritebackDisabled()
    role = directory.get_member_role(workspace_id, principal.user_id)
    if role not in roles:
        raise InsufficientRole() if roles == ADMIN_ROLES else InsufficientRole(
            "Your role in this workspace may not do this.",
            fix="Ask an owner or admin to grant you a role with write access.")
    if connection:
        conn = profile.get("connection")
        if not isinstance(conn, Mapping) or conn.get("status") != "active" or not conn.get("pixel_id") \
                or not conn.get("secret_id"):  # no secret, no token: nothing can be sent
            raise ConnectionInactive()
    return Access(principal=principal, profile=profile, workspace_id=workspace_id, role=role)


class Unauthorized(Exception):
    """Raised by the TOKEN authorizer: the message must be exactly "Unauthorized" for API Gateway to
    answer 401 (the template's gateway response turns it into the SPEC UNAUTHENTICATED body)."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def api_wildcard_arn(method_arn: str) -> str:
    """arn:...:api-id/stage/* for a method ARN, so a cached allow covers every route of the stage."""
    parts = method_arn.split("/")
    if len(parts) < 2 or not method_arn.startswith("arn:"):
        return method_arn
    return f"{parts[0]}/{parts[1]}/*"


def authorize(event: Mapping[str, Any], directory: Directory, now: float) -> dict[str, Any]:
    """A TOKEN authorizer: allow policy + context {workspace_id, user_id, scopes}, or Unauthorized."""
    token = bearer_token(str(event.get("authorizationToken") or ""))
    principal = principal_for_token(directory, token, now)
    if principal is None:
        raise Unauthorized()
    return {
        "principalId": principal.user_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{
                "Action": "execute-api:Invoke",
                "Effect": "Allow",
                "Resource": api_wildcard_arn(str(event.get("methodArn") or "*")),
            }],
        },
        "context": principal.authorizer_context(),
    }
