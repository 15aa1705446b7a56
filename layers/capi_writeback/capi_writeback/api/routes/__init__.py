"""The routes of SPEC §3, one `OperationRouter` per operation, in one module per area:
`writeback` (preview, dry-run, confirm, breaker reset), `conversions`, `audit`, `events` (one event),
`syncs` (SPEC §10).

A function's handler includes only its own operation's router (`functions/<name>/app.py`); the docs
function includes `all_routers()`. Import the area module you need: importing this package alone
loads none of them.
"""

from __future__ import annotations

from capi_writeback.api.routes.operation import OperationRouter


def all_routers() -> tuple[OperationRouter, ...]:
    """Every operation's router, in the order of the OpenAPI document."""
    from capi_writeback.api.routes import audit, conversions, events, syncs, writeback

    return (writeback.PREVIEW, writeback.DRY_RUN, writeback.CONFIRM, conversions.STORE, audit.LIST,
            writeback.BREAKER_RESET, events.SEND, *syncs.DEFINITIONS, *syncs.RUNS,
            *admin_routers())


def admin_routers() -> tuple[OperationRouter, ...]:
    """The administration routers (SPEC §11): workspace, tokens, profiles, connection, quality."""
    from capi_writeback.api.routes import (
        admin_connection,
        admin_profiles,
        admin_tokens,
        admin_workspace,
        quality,
    )

    return (*admin_workspace.ROUTERS, *admin_tokens.ROUTERS, *admin_profiles.ROUTERS,
            *admin_connection.ROUTERS, quality.QUALITY)
