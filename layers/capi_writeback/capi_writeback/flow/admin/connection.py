"""A profile's Meta connection: connect (check with Meta, store the credentials, mark it active)
and disconnect.

Connecting checks the token against Meta first (`GET /{version}/{pixel_id}?fields=id,name`, the
token in an Authorization header), then writes it to Secrets Manager, then marks the connection
`active`: a check that fails changes nothing, so a mistyped token never replaces the working one of
a live connection. Meta's refusal is META_CONNECTION_REJECTED with Meta's code and a fix; Meta not
answering is META_UNAVAILABLE. The token and app secret are never returned, logged or audited.
"""

from __future__ import annotations

from typing import Any

from capi_writeback.contracts.admin import ConnectionPut
from capi_writeback.exceptions import ConnectionRejected, ProfileNotFound, SendUnavailable
from capi_writeback.flow.admin.access import admin_directory, change, iso, profile_change_access
from capi_writeback.flow.admin.profiles import public_connection
from capi_writeback.flow.services import Services, default_services
from capi_writeback.flow.trail import Call, Note, audited
from capi_writeback.observability import logger
from capi_writeback.store.connection_secrets import ConnectionSecrets, secret_id_for
from capi_writeback.store.directory.base import DirectoryConflict


def connect(call: Call, request: ConnectionPut, services: Services | None = None, *,
            secrets: ConnectionSecrets | None = None) -> dict[str, Any]:
    """Check the credentials with Meta; on success store them and mark the connection active."""
    from capi_writeback.meta.credentials import MetaCredentials
    from capi_writeback.meta.errors import MetaError, caller_details, is_outage
    from capi_writeback.meta.graph import reader_for

    services = services or default_services()
    secrets = secrets or ConnectionSecrets()

    def body(note: Note) -> dict[str, Any]:
        access = profile_change_access(services, call, note)
        note.pixel_id = request.pixel_id
        version = request.api_version or access.connection.get("api_version") or None
        client = services.meta(str(version) if version else None)
        version = client.config.api_version
        change(note, pixel_id=request.pixel_id, api_version=version, test_event_code=request.test_event_code,
               app_secret=request.app_secret is not None)
        credentials = MetaCredentials(request.access_token, request.app_secret)
        try:
            pixel = reader_for(client.config).pixel(request.pixel_id, credentials)
        except MetaError as error:
            details = caller_details(error)
            if is_outage(error):
                raise SendUnavailable("Meta did not answer the connection check.",
                                      fix="Retry in a minute; nothing was changed.",
                                      details=details) from None
            raise ConnectionRejected(f"Meta refused the connection check: {error.message}", fix=error.fix,
                                     details=details) from None
        secret_id = secret_id_for(access.profile_id)
        value = {"access_token": request.access_token}
        if request.app_secret:
            value["app_secret"] = request.app_secret
        secrets.put(secret_id, value)
        client.credentials.invalidate(secret_id)  # this process reads the new one at once
        connection: dict[str, Any] = {
            "status": "active", "pixel_id": request.pixel_id, "pixel_name": pixel.get("name"),
            "secret_id": secret_id, "api_version": version, "checked_at": iso(services.clock()),
            "connected_by": call.principal.user_id, "app_secret": request.app_secret is not None}
        test_event_code = request.test_event_code
        if test_event_code is None and access.connection.get("pixel_id") == request.pixel_id:
            test_event_code = access.connection.get("test_event_code")  # same pixel: keep its default
        if test_event_code:
            connection["test_event_code"] = test_event_code
        try:
            profile = admin_directory(services).update_profile(access.profile_id, access.workspace_id,
                                                               {"connection": connection})
        except DirectoryConflict:
            raise ProfileNotFound() from None
        logger.info("meta connection active", extra={"profile_id": access.profile_id,
                                                       "pixel_id": request.pixel_id})
        return _answer("connection_put", call, profile)

    return audited(services, call, "connection_put", body)


def disconnect(call: Call, services: Services | None = None, *,
               secrets: ConnectionSecrets | None = None) -> dict[str, Any]:
    """Mark the connection inactive and schedule its secret for deletion (7-day recovery window)."""
    services = services or default_services()
    secrets = secrets or ConnectionSecrets()

    def body(note: Note) -> dict[str, Any]:
        access = profile_change_access(services, call, note)
        previous = access.connection
        change(note, pixel_id=previous.get("pixel_id"), **{"from": previous.get("status")})
        if previous.get("secret_id"):
            secrets.remove(str(previous["secret_id"]))
        connection = {"status": "inactive", "pixel_id": previous.get("pixel_id"),
                      "disconnected_at": iso(services.clock()), "disconnected_by": call.principal.user_id}
        try:
            profile = admin_directory(services).update_profile(
                access.profile_id, access.workspace_id,
                {"connection": {k: v for k, v in connection.items() if v is not None}})
        except DirectoryConflict:
            raise ProfileNotFound() from None
        return _answer("connection_delete", call, profile)

    return audited(services, call, "connection_delete", body)


def _answer(operation: str, call: Call, profile: dict[str, Any]) -> dict[str, Any]:
    return {"operation": operation, "request_id": call.request_id, "profile_id": profile["profile_id"],
            "workspace_id": profile["workspace_id"],
            "connection": public_connection(profile.get("connection"))}
