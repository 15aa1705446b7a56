"""One confirm (or its replay) in a fresh process, as one invocation of a warm Lambda runs it (boto3
imported, its client built): the flow over the stack of bench/scale_stack.py and the Meta emulator.
Prints one line `RESULT {json}`: wall time of the confirm call, how long building + hashing +
spooling the payload took (the rest is sending), the answer's figures and the process's peak RSS.

`python -m bench.confirm_run '<stack json>' META_URL KEY`
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from typing import Any


def main(argv: list[str]) -> int:
    stack, meta_url, key = json.loads(argv[0]), argv[1], argv[2]
    os.environ.update({"AWS_ENDPOINT_URL": stack["endpoint"], "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "META_BASE_URL": meta_url, "META_CONCURRENCY": "4", "POWERTOOLS_LOG_LEVEL": "WARNING",
                       **stack["tables"]})
    from capi_writeback.auth import Principal
    from capi_writeback.contracts.writeback import ConfirmRequest
    from capi_writeback.flow import Call, confirm
    from capi_writeback.flow import batches as spooling

    phases: dict[str, float] = {}
    fill = spooling.Spool.fill

    def timed_fill(spool: Any, batches: Any) -> Any:
        started = time.perf_counter()
        try:
            return fill(spool, batches)
        finally:
            phases["build_seconds"] = time.perf_counter() - started
            phases["spool_mb"] = spool.size / 1e6

    spooling.Spool.fill = timed_fill  # type: ignore[method-assign]
    from capi_writeback import store

    store.client()  # a warm container: boto3 imported, its client built (the replay is then ~5 requests)
    seed = stack["seed"]
    call = Call(Principal(workspace_id=seed["workspace_id"], user_id=seed["user_id"],
                          scopes=frozenset({"mcp:read", "mcp:write"})), seed["profile_id"], f"bench-{key}")
    started, cpu = time.perf_counter(), time.process_time()
    result = confirm(call, ConfirmRequest(last_days=2, idempotency_key=key))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print("RESULT " + json.dumps({
        "wall_seconds": wall, "cpu_seconds": cpu, **phases, "status": result["status"],
        "replayed": result["replayed"],
        "event_count": result["event_count"], "events_received": result["events_received"],
        "batches": len(result["batches"]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
