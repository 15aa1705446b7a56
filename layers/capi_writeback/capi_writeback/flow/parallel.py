"""Independent round trips of one request, made at the same time instead of one after the other.

The single-event send is called by backends once per conversion, so its latency is what they wait
for every time, and most of it is DynamoDB round trips. The ones that do not depend on each other
are issued together here. Nothing changes what is read or written, what is checked, or in which
order the outcomes are judged (the prerequisites still refuse with the first unmet one): only when
the calls go out. Every call is waited for before the request answers (a Lambda is frozen once it
has answered: nothing may be left running).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from capi_writeback.auth import Principal
from capi_writeback.store.directory.base import DirectoryReader

T = TypeVar("T")
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
WORKERS = 8


def _pool() -> ThreadPoolExecutor:
    """One pool per process, made on first use (threads outlive requests, as the connections do)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="capi-parallel")
        return _POOL


def start(call: Callable[[], T]) -> Future[T]:
    """`call()` started now, on the pool."""
    return _pool().submit(call)


def outcome(future: Future[T]) -> T | BaseException:
    """What the call returned, or the exception it raised (waiting for it to end)."""
    try:
        return future.result()
    except BaseException as exc:  # the caller decides which outcome wins
        return exc


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run `calls` at once and wait for all of them; their results in order, or the first
    exception (in the order given) once every call has ended."""
    outcomes = [outcome(f) for f in [start(c) for c in calls]]
    for found in outcomes:
        if isinstance(found, BaseException):
            raise found
    return outcomes


class PrefetchedDirectory:
    """A DirectoryReader for one call: the reads its prerequisites make (the profile, and the settings
    and role of the caller's workspace, known from the token) start together when it is made; any
    other read goes to `directory` as usual. A read that is never asked for (a refusal came first)
    is simply not used."""

    def __init__(self, directory: DirectoryReader, principal: Principal, profile_id: str) -> None:
        self._directory = directory
        self._profile_id = profile_id
        self._profile = start(lambda: directory.get_profile(profile_id))
        self._workspace_id = principal.workspace_id
        self._user_id = principal.user_id
        self._settings: Future[dict[str, Any] | None] | None = None
        self._role: Future[str | None] | None = None
        workspace_id = principal.workspace_id
        if workspace_id is not None:  # an actor's workspace is the profile's: nothing to start early
            self._settings = start(lambda: directory.get_workspace_settings(workspace_id))
            self._role = start(lambda: directory.get_member_role(workspace_id, principal.user_id))

    def get_token(self, token_hash: str) -> dict[str, Any] | None:
        return self._directory.get_token(token_hash)

    def get_profile(self, profile_id: str) -> dict[str, Any] | None:
        if profile_id != self._profile_id:
            return self._directory.get_profile(profile_id)
        return copy.deepcopy(self._profile.result())

    def get_workspace_settings(self, workspace_id: str) -> dict[str, Any] | None:
        if self._settings is None or workspace_id != self._workspace_id:
            return self._directory.get_workspace_settings(workspace_id)
        return copy.deepcopy(self._settings.result())

    def get_member_role(self, workspace_id: str, user_id: str) -> str | None:
        if self._role is None or (workspace_id, user_id) != (self._workspace_id, self._user_id):
            return self._directory.get_member_role(workspace_id, user_id)
        return self._role.result()

    def list_profiles(self, workspace_id: str) -> list[dict[str, Any]]:
        return self._directory.list_profiles(workspace_id)
