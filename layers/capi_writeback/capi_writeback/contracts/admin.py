"""The administration API (SPEC §11.1): workspace settings, members, API tokens, profiles and their
Meta connection. Requests refuse unknown fields; responses never carry a token (except the one a
token creation returns, once), a token's hash, or a Meta access token or app secret.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from capi_writeback.contracts.common import PROFILE_ID_MAX_LENGTH, PROFILE_ID_PATTERN, Model, Strict

# User ids are opaque (letters, digits, . _ : -): no e-mail addresses, since they are written to
# audit rows and logs as the actor.
USER_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
USER_ID_MAX_LENGTH = 128
TOKEN_ID_PATTERN = r"^tok_[0-9a-f]{16}$"
MAX_TOKEN_DAYS = 365
DEFAULT_TOKEN_DAYS = 90

Role = Literal["owner", "admin", "member", "viewer"]
Scope = Literal["mcp:read", "mcp:write", "admin"]
ActionSource = Literal["email", "website", "app", "phone_call", "chat", "physical_store",
                       "system_generated", "business_messaging", "other"]
UserId = Annotated[str, Field(min_length=1, max_length=USER_ID_MAX_LENGTH, pattern=USER_ID_PATTERN)]
Name = Annotated[str, Field(min_length=1, max_length=128)]
OutcomeType = Annotated[str, Field(min_length=1, max_length=64)]
Column = Annotated[str, Field(min_length=1, max_length=128)]


# ---- workspace ---------------------------------------------------------------------------------

class WorkspaceSettingsPatch(Strict):
    """Body of PATCH /v1/workspace/settings: the settings to change (at least one)."""

    writeback_enabled: bool | None = Field(default=None, description="Turn write-back on or off.")
    name: Name | None = Field(default=None, description="The workspace's display name.")

    @model_validator(mode="after")
    def _something(self) -> WorkspaceSettingsPatch:
        if self.writeback_enabled is None and self.name is None:
            raise ValueError("give writeback_enabled or name")
        return self


class Member(Model):
    user_id: str
    role: Role


class Caller(Model):
    user_id: str
    role: str
    scopes: list[str]


class Workspace(Model):
    """GET /v1/workspace: the settings, who you are, and (for owners and admins) the members."""

    workspace_id: str
    name: str | None = None
    writeback_enabled: bool
    you: Caller
    members: list[Member] = Field(description="Owners and admins only; empty for other roles.")


class WorkspaceSettings(Model):
    operation: Literal["workspace_settings"] = "workspace_settings"
    request_id: str | None = None
    workspace_id: str
    name: str | None = None
    writeback_enabled: bool


class MemberPut(Strict):
    """Body of PUT /v1/workspace/members/{user_id}."""

    role: Role


class MemberChange(Model):
    operation: Literal["member_put", "member_remove"]
    request_id: str | None = None
    workspace_id: str
    user_id: str
    role: Role | None = Field(default=None, description="The role now (null once removed).")
    previous_role: Role | None = None
    tokens_revoked: int = Field(default=0, description="The removed member's tokens, revoked with it.")


# ---- tokens ------------------------------------------------------------------------------------

class TokenCreate(Strict):
    """Body of POST /v1/tokens. The token is returned once, in the response, and stored only as its
    SHA-256."""

    user_id: UserId = Field(description="A member of the workspace the token acts as.")
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=3)]
    expires_in_days: int = Field(default=DEFAULT_TOKEN_DAYS, ge=1, le=MAX_TOKEN_DAYS)
    label: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\x20-\x7e]+$",
                              description="What the token is for (shown in listings).")

    @field_validator("scopes")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("scopes must not repeat")
        return sorted(value)


class Token(Model):
    token_id: str
    user_id: str
    scopes: list[str]
    expires_at: int = Field(description="Unix seconds.")
    created_at: int | None = None
    created_by: str | None = None
    label: str | None = None


class TokenCreated(Token):
    operation: Literal["token_create"] = "token_create"
    request_id: str | None = None
    token: str = Field(description="The bearer token. Shown this once: it is stored only as its SHA-256.")


class TokenList(Model):
    items: list[Token]


class TokenRevoked(Model):
    operation: Literal["token_revoke"] = "token_revoke"
    request_id: str | None = None
    token_id: str
    user_id: str
    revoked: Literal[True] = True


# ---- profiles ----------------------------------------------------------------------------------

class ProfileSettingsIn(Strict):
    """A profile's defaults (SPEC §2). On PATCH, only the keys given change."""

    action_source: ActionSource | None = None
    country: str | None = Field(default=None, min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$",
                                description="ISO 3166-1 alpha-2, for phone numbers and addresses.")
    currency: str | None = Field(default=None, min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$",
                                 description="ISO 4217, for values without a currency.")
    event_mapping: Annotated[dict[OutcomeType, Annotated[str, Field(min_length=1, max_length=40)]],
                             Field(max_length=200)] | None = Field(
        default=None, description="outcome_type -> Meta event name (extends the defaults).")
    column_mapping: Annotated[dict[Column, Column], Field(max_length=200)] | None = Field(
        default=None, description="source column -> canonical row key.")

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        from capi_writeback.normalize.countries import ISO_COUNTRIES

        if value is not None and value.lower() not in ISO_COUNTRIES:
            raise ValueError("not an ISO 3166-1 alpha-2 country code")
        return value.upper() if value else value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        from capi_writeback.normalize.currency import normalize_currency

        if value is not None and normalize_currency(value) is None:
            raise ValueError("not an ISO 4217 currency code")
        return value.upper() if value else value

    @field_validator("event_mapping")
    @classmethod
    def _events(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        from capi_writeback.mapping import EventNameError, canonical_event_name

        if value is None:
            return None
        try:
            return {k: canonical_event_name(v) for k, v in value.items()}
        except EventNameError as exc:
            raise ValueError(str(exc)) from None


class ProfileCreate(Strict):
    """Body of POST /v1/profiles."""

    profile_id: str | None = Field(default=None, min_length=1, max_length=PROFILE_ID_MAX_LENGTH,
                                   pattern=PROFILE_ID_PATTERN, description="Default: generated.")
    name: Name
    settings: ProfileSettingsIn | None = None


class ProfilePatch(Strict):
    """Body of PATCH /v1/profiles/{profile_id} (at least one field)."""

    name: Name | None = None
    settings: ProfileSettingsIn | None = None

    @model_validator(mode="after")
    def _something(self) -> ProfilePatch:
        if self.name is None and self.settings is None:
            raise ValueError("give name or settings")
        return self


class Connection(Model):
    """A profile's Meta connection as shown: never the token, the app secret or the secret's name."""

    status: Literal["active", "inactive", "expired"]
    pixel_id: str | None = None
    pixel_name: str | None = None
    test_event_code: str | None = None
    api_version: str | None = None
    checked_at: str | None = None
    connected_by: str | None = None
    app_secret: bool = Field(default=False, description="Whether calls carry appsecret_proof.")


class Breaker(Model):
    open: bool
    retry_after: int | None = Field(default=None, description="Seconds until it closes by itself.")


class Profile(Model):
    profile_id: str
    workspace_id: str
    name: str | None = None
    settings: dict[str, Any]
    connection: Connection | None = None
    breaker: Breaker


class ProfileList(Model):
    items: list[Profile]


class ProfileChange(Profile):
    operation: Literal["profile_create", "profile_update"]
    request_id: str | None = None


class ConnectionChange(Model):
    """The answer of PUT/DELETE .../connection: the connection as it is now."""

    operation: Literal["connection_put", "connection_delete"]
    request_id: str | None = None
    profile_id: str
    workspace_id: str
    connection: Connection


class ConnectionPut(Strict):
    """Body of PUT /v1/profiles/{profile_id}/connection. The token (and app secret) go to Secrets
    Manager once Meta accepted them; they are never returned or logged."""

    pixel_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9]+$",
                          description="The Meta pixel (dataset) id.")
    access_token: str = Field(min_length=8, max_length=1024, pattern=r"^[\x21-\x7e]+$",
                              description="A Conversions API access token from Events Manager.")
    app_secret: str | None = Field(default=None, min_length=8, max_length=256, pattern=r"^[\x21-\x7e]+$",
                                   description="When the app requires appsecret_proof.")
    test_event_code: str | None = Field(default=None, min_length=1, max_length=64,
                                        pattern=r"^[A-Za-z0-9_-]+$",
                                        description="Default test_event_code for dry-runs.")
    api_version: str | None = Field(default=None, pattern=r"^v[0-9]{1,3}\.[0-9]{1,2}$",
                                    description="Graph API version; default: the deployment's.")
