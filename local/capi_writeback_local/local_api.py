"""The whole service on one laptop: embedded AWS (moto), the Meta emulator, API Gateway and HTTP.

`LocalApi` starts, in order, the embedded stack (tables from template.yaml), the Meta emulator
(unless `meta_url` points elsewhere), seeds a demo workspace whose Meta connection uses the given
pixel id and token, and serves the API on 127.0.0.1 through the same authorizer and handlers API
Gateway would call. `stop()` undoes all of it, including the environment it set. `capi-writeback
serve` and `make demo` are both built on it.

With `embedded=False` it serves over whatever AWS the environment points at (credentials, region,
AWS_ENDPOINT_URL and the table variables of template.yaml) and seeds nothing: the API is then only
as usable as the tokens and profiles already stored there.

The embedded stack's data lives in memory unless `state_dir` is given: then it is kept there,
write-through (state.py), and a restart on the same directory finds every table, secret and
token as they were, and serves the same demo workspace (its tokens are kept in
`<state_dir>/seed.json`, readable by the owner only).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import IO, Any

from capi_writeback_local.api_gateway import ApiGateway
from capi_writeback_local.http_server import LocalApiServer
from capi_writeback_local.stack import EnvPatch

DEFAULT_PIXEL_ID = "1234567890"
SEED_FILE = "seed.json"
DEFAULT_META_TOKEN = "test-token"


class LocalApi:
    """`with LocalApi() as api:` → `api.url`, `api.seed` (DemoSeed), `api.emulator` (or None)."""

    def __init__(
        self,
        *,
        port: int = 0,
        meta_url: str | None = None,
        meta_token: str = DEFAULT_META_TOKEN,
        pixel_id: str = DEFAULT_PIXEL_ID,
        access_log: IO[str] | None = None,
        environment: dict[str, str] | None = None,
        embedded: bool = True,
        state_dir: str | Path | None = None,
    ) -> None:
        self.port = port
        self.meta_url = meta_url
        self.meta_token = meta_token
        self.pixel_id = pixel_id
        self.access_log = access_log
        self.environment = dict(environment or {})
        self.embedded = embedded
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.stack: Any = None
        self.emulator: Any = None
        self.seed: Any = None
        self.gateway: ApiGateway | None = None
        self.server: LocalApiServer | None = None
        self._env = EnvPatch()

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("LocalApi is not started")
        return self.server.url

    def info(self) -> dict[str, str | None]:
        """The first line `capi-writeback serve` prints: where the API is and how to call it."""
        mcp_url = self.url + "/v1/mcp"
        aws_endpoint = self.stack.endpoint_url if self.stack is not None else None
        if self.seed is None:
            return {"api_url": self.url, "token": None, "profile_id": None, "pixel_id": self.pixel_id,
                    "mcp_url": mcp_url, "read_token": None, "aws_endpoint": aws_endpoint}
        return {"api_url": self.url, "token": self.seed.api_token, "profile_id": self.seed.profile_id,
                "pixel_id": self.seed.pixel_id, "mcp_url": mcp_url, "read_token": self.seed.read_token,
                "aws_endpoint": aws_endpoint}

    def start(self) -> LocalApi:
        """Start everything (a second call does nothing). The API port is bound first, so a port
        that is taken fails at once, and moto or the emulator cannot pick it meanwhile."""
        from capi_writeback_local.stack import EmbeddedStack, table_env

        if self.server is not None:
            return self
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every AWS call
        try:
            self.gateway = ApiGateway()
            self.server = LocalApiServer(self.gateway, self.port, access_log=self.access_log)
            if self.embedded:
                self.stack = EmbeddedStack(state_dir=self.state_dir).start()
            else:
                missing = [name for name in table_env() if not os.environ.get(name)]
                if missing:
                    raise RuntimeError("serving over real AWS needs the table names in "
                                       + ", ".join(missing))
            meta_url = self.meta_url
            if meta_url is None:
                from capi_writeback_local.meta_emulator import MetaEmulator

                self.emulator = MetaEmulator(tokens=(self.meta_token,), pixel_ids=(self.pixel_id,)).start()
                meta_url = self.emulator.url
            self._set_env({"META_BASE_URL": meta_url, "POWERTOOLS_SERVICE_NAME": "capi-writeback",
                           "POWERTOOLS_METRICS_NAMESPACE": "CapiWriteback", **self.environment})
            if self.stack is not None:
                self.seed = self._kept_seed() or self._new_seed()
            self.server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the HTTP server, the emulator and moto; restore the environment (idempotent)."""
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        if self.stack is not None:
            self.stack.stop()
            self.stack = None
        self._env.restore()

    def __enter__(self) -> LocalApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _set_env(self, values: dict[str, str]) -> None:
        self._env.set(values)

    def _seed_file(self) -> Path | None:
        return self.state_dir / SEED_FILE if self.state_dir is not None else None

    def _kept_seed(self) -> Any:
        """The demo workspace of an earlier run on the same state (its pixel id and Meta token are
        kept too: they are in the restored profile and secret)."""
        from capi_writeback_local.stack import DemoSeed

        path = self._seed_file()
        if path is None or not path.exists() or not self.stack.restored:
            return None
        return DemoSeed(**json.loads(path.read_text()))

    def _new_seed(self) -> Any:
        seed = self.stack.seed_demo(pixel_id=self.pixel_id, meta_token=self.meta_token)
        path = self._seed_file()
        if path is not None:  # written once its items are journaled; atomically, owner-only
            temporary = path.with_suffix(".tmp")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as file:
                json.dump(dataclasses.asdict(seed), file)
                file.flush()
                os.fsync(file.fileno())
            temporary.replace(path)
        return seed
