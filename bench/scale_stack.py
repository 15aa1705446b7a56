"""The AWS side of the scale benchmarks, in a process of its own (its memory is not the confirm's, as
DynamoDB's is not a Lambda's): moto on 127.0.0.1 with the template's tables, a demo workspace, and
N stored conversion rows put straight into moto (moto_index.bulk_load: seconds, not 40,000
BatchWriteItem calls).

`python -m bench.scale_stack N META_TOKEN PIXEL` prints one JSON line {"endpoint", "tables",
"seed": {...}} once ready, then serves until its stdin closes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

ACCOUNT, REGION = "123456789012", "us-east-1"


def stored_rows(count: int, now: int) -> Iterator[dict[str, Any]]:
    """Rows as `rows.prepare_for_storage` leaves them (PII already hashed), spread over a day."""
    for i in range(count):
        digest = hashlib.sha256(str(i).encode()).hexdigest()
        yield {"conversion_id": f"c{i:07d}", "outcome_type": "payment_received" if i % 5 else "lead_created",
               "occurred_at": now - 3600 - i % 86_000, "em": [digest], "ph": [digest[::-1]],
               "external_id": [digest[1:] + "0"], "client_ip_address": "203.0.113.7",
               "client_user_agent": "Mozilla/5.0", "fbp": f"fb.1.1700000000000.{i}",
               "value": 10 + i % 50, "currency": "USD"}


def items(profile_id: str, count: int, now: int) -> Iterator[dict[str, Any]]:
    """The items DynamoConversionStore.put_rows writes for those rows."""
    for row in stored_rows(count, now):
        yield {"profile_id": {"S": profile_id}, "conversion_id": {"S": row["conversion_id"]},
               "occurred_at": {"N": str(row["occurred_at"])}, "outcome_type": {"S": row["outcome_type"]},
               "row": {"S": json.dumps(row, separators=(",", ":"), sort_keys=True)},
               "stored_at": {"N": str(now)}, "ttl": {"N": str(now + 90 * 86400)}}


def main(argv: list[str]) -> int:
    count, meta_token, pixel_id = int(argv[0]), argv[1], argv[2]
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        os.environ[key] = value
    import boto3
    from capi_writeback_local import moto_index
    from capi_writeback_local.moto_atomic import serialize_moto_dynamodb
    from capi_writeback_local.stack import MotoServer, create_tables, seed_demo
    from moto.dynamodb.models import dynamodb_backends

    serialize_moto_dynamodb()
    moto_index.install()
    server = MotoServer(0)
    server.start()
    clients = {name: boto3.client(name, endpoint_url=server.url, region_name=REGION)
               for name in ("dynamodb", "secretsmanager")}
    tables = create_tables(clients["dynamodb"])
    seed = seed_demo(clients["dynamodb"], clients["secretsmanager"], tables, pixel_id=pixel_id,
                     meta_token=meta_token)
    table = dynamodb_backends[ACCOUNT][REGION].get_table(tables["CONVERSIONS_TABLE"])
    started = time.perf_counter()
    moto_index.bulk_load(table, items(seed.profile_id, count, int(time.time())))
    print(json.dumps({"endpoint": server.url, "tables": tables, "seed": dataclasses.asdict(seed),
                      "load_seconds": round(time.perf_counter() - started, 1)}), flush=True)
    sys.stdin.read()  # serve until the benchmark is done with us
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
