"""The syncs' refusals as domain exceptions (no HTTP status: `capi_writeback.errors` maps them)."""

from __future__ import annotations

from capi_writeback.exceptions import CapiWritebackError


class SyncError(CapiWritebackError):
    """Base of the refusals of the sync capability."""


class SyncNotFound(SyncError):
    """No such sync for this profile."""


class RunNotFound(SyncError):
    """No such run of this sync (or it is older than the runs kept)."""


class RunInProgress(SyncError):
    """A run of this sync is running now; a second start is refused (not queued)."""


class SyncDisabled(SyncError):
    """The sync is disabled: its schedule is paused and runs are refused."""


class SyncChanged(SyncError):
    """The sync was changed by someone else between reading it and writing the change."""
