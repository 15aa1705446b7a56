"""The syncs' stores on DynamoDB.

SYNCS_TABLE       profile_id (S) + sync_id (S): the definitions; `version` guards updates, and
                  `active_run`/`active_run_until` is the one running run (a conditional update),
                  `last_run` the summary of the latest finished one.
SYNC_RUNS_TABLE   sync_id (S) + sk (S): `R#<run_id>` the run, `P#<run_id>#<item>` one record per work
                  item, `O#<run_id>#<item>#<page>` per-row outcomes (zlib JSON); TTL `ttl`.
SYNC_LEDGER_TABLE sync_id (S) + key (S): the insert-only ledger (`syncs/ledger.py`); TTL `ttl`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from capi_writeback.store._dynamo import (
    Backend,
    batch_get,
    batch_write,
    client,
    deserialize,
    is_condition_failure,
    num,
    pack,
    serialize,
    unpack,
)
from capi_writeback.syncs.persistence.base import (
    CLAIMED,
    RELEASED,
    RUN_STATE,
    RUN_TTL_SECONDS,
    SENT,
    KeyEntry,
)

TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
_LEDGER_CLIENT: Any = None
WRITE_BATCH = 25  # and per BatchWriteItem
_ROUNDS = 6


def _entry(item: Mapping[str, Any]) -> KeyEntry:
    owner = item.get("owner", {}).get("S", "")
    return KeyEntry(key=item["key"]["S"], state=item["state"]["S"], owner=owner,
                    run_id=owner.split("#", 1)[0],
                    lease_expires_at=float(item.get("lease_expires_at", {}).get("N", "0")),
                    expires_at=float(item.get("ttl", {}).get("N", "0")),
                    attempts=int(item.get("attempts", {}).get("N", "1")),
                    reason=item.get("reason", {}).get("S"))


class DynamoKeyLedgerStore(Backend):
    """KeyLedgerStore on SYNC_LEDGER_TABLE: claims and releases as transactions of 100 conditional
    updates, marks as batches of 25 puts. Items hold what the rules read (state, owner = run id +
    item, lease, TTL, attempts) and no more: a child writes one or two of them per row.

    Its client skips botocore's client-side parameter validation (`ledger_client`): the requests
    are built here, and validating each of the 100 items of every call was most of a child's CPU
    (bench/bench_sync.py)."""

    env_var = "SYNC_LEDGER_TABLE"

    @property
    def ddb(self) -> Any:
        given = self._table._client
        return given if given is not None else ledger_client()

    def _key(self, sync_id: str, key: str) -> dict[str, Any]:
        return {"sync_id": {"S": sync_id}, "key": {"S": key}}

    def get_many(self, sync_id: str, keys: Sequence[str], now: float) -> dict[str, KeyEntry]:
        items = batch_get(self.ddb, self.table, [self._key(sync_id, k) for k in keys])
        entries = (_entry(item) for item in items)
        return {e.key: e for e in entries if e.expires_at > now}

    def claim_many(self, sync_id: str, keys: Sequence[str], *, owner: str, run_id: str,
                   lease_expires_at: float, expires_at: float,
                   now: float) -> tuple[set[str], dict[str, KeyEntry | None]]:
        def update(key: str) -> dict[str, Any]:
            return {"Update": {
                "TableName": self.table, "Key": self._key(sync_id, key),
                "UpdateExpression": "SET #state = :claimed, #owner = :owner, lease_expires_at = :lease, "
                                    "#ttl = :ttl REMOVE reason ADD attempts :one",
                "ConditionExpression": "attribute_not_exists(#key) OR #ttl <= :now "
                                       "OR #state = :released OR (#state = :claimed "
                                       "AND (#owner = :owner OR lease_expires_at <= :now))",
                "ExpressionAttributeNames": {"#state": "state", "#owner": "owner", "#ttl": "ttl",
                                             "#key": "key"},
                "ExpressionAttributeValues": {
                    ":claimed": {"S": CLAIMED}, ":released": {"S": RELEASED}, ":owner": {"S": owner},
                    ":lease": num(round(lease_expires_at, 3)),
                    ":ttl": num(int(expires_at)), ":now": num(round(now, 3)), ":one": {"N": "1"}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}

        refused = self._transact(keys, update)
        return set(keys) - set(refused), refused

    def mark_sent(self, sync_id: str, keys: Sequence[str], *, owner: str, run_id: str, now: float,
                  expires_at: float) -> None:
        requests = [{"PutRequest": {"Item": {
            **self._key(sync_id, key), "state": {"S": SENT}, "owner": {"S": owner},
            "lease_expires_at": num(round(now, 3)), "ttl": num(int(expires_at))}}}
            for key in dict.fromkeys(keys)]
        for start in range(0, len(requests), WRITE_BATCH):
            batch_write(self.ddb, self.table, requests[start:start + WRITE_BATCH])

    def release(self, sync_id: str, keys: Sequence[str], *, owner: str, reason: str, now: float) -> None:
        def update(key: str) -> dict[str, Any]:
            return {"Update": {
                "TableName": self.table, "Key": self._key(sync_id, key),
                "UpdateExpression": "SET #state = :released, reason = :reason, released_at = :now",
                "ConditionExpression": "#state = :claimed AND #owner = :owner",
                "ExpressionAttributeNames": {"#state": "state", "#owner": "owner"},
                "ExpressionAttributeValues": {":released": {"S": RELEASED}, ":claimed": {"S": CLAIMED},
                                              ":owner": {"S": owner}, ":reason": {"S": reason or "-"},
                                              ":now": num(round(now, 3))}}}

        self._transact(keys, update)

    def _transact(self, keys: Iterable[str], update: Any) -> dict[str, KeyEntry | None]:
        """Each key's conditional update, 100 to a transaction. A transaction refused because some
        conditions failed is sent again without those keys (they are the answer); keys caught in
        another transaction (TransactionConflict) are retried after a pause. The refused keys, with
        the item that refused each when DynamoDB returned it."""
        refused: dict[str, KeyEntry | None] = {}
        pending = list(dict.fromkeys(keys))
        for start in range(0, len(pending), TRANSACTION_ITEMS):
            group = pending[start:start + TRANSACTION_ITEMS]
            for attempt in range(_ROUNDS * 2):
                if not group:
                    break
                try:
                    self.ddb.transact_write_items(TransactItems=[update(k) for k in group])
                    group = []
                    break
                except Exception as exc:
                    reasons = getattr(exc, "response", {}).get("CancellationReasons")
                    if not reasons:
                        raise
                retry = []
                for key, reason in zip(group, reasons, strict=True):
                    code = reason.get("Code")
                    if code == "ConditionalCheckFailed":
                        refused[key] = _entry(reason["Item"]) if reason.get("Item") else None
                    elif code not in (None, "None"):
                        retry.append(key)  # TransactionConflict, throttling: try again
                    else:
                        retry.append(key)  # it was fine; only cancelled along with the others
                if len(retry) == len(group):  # nothing refused: the cancellation was a conflict
                    time.sleep(min(1.0, 0.02 * 2 ** attempt) * (0.5 + random.random()))
                group = retry
            if group:
                raise RuntimeError(f"DynamoDB kept cancelling the ledger transaction ({len(group)} keys)")
        return refused


def ledger_client() -> Any:
    """The process's DynamoDB client for the ledger: the shared client's settings, without
    client-side parameter validation (DynamoDB validates every request anyway)."""
    global _LEDGER_CLIENT
    shared = client()
    if _LEDGER_CLIENT is None or _LEDGER_CLIENT[0] is not shared:
        import boto3
        from botocore.config import Config

        config = shared.meta.config.merge(Config(parameter_validation=False))
        _LEDGER_CLIENT = (shared, boto3.client("dynamodb", config=config))
    return _LEDGER_CLIENT[1]


def _update(changes: Mapping[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    values = serialize({f":v{i}": v for i, v in enumerate(changes.values())})
    names = {f"#n{i}": k for i, k in enumerate(changes)}
    sets = [f"#n{i} = :v{i}" for i in range(len(changes)) if f":v{i}" in values]
    removes = [f"#n{i}" for i in range(len(changes)) if f":v{i}" not in values]  # None: remove
    expression = ("SET " + ", ".join(sets) if sets else "") \
        + (" REMOVE " + ", ".join(removes) if removes else "")
    return expression.strip(), names, values


class DynamoSyncStore(Backend):
    """SyncStore on SYNCS_TABLE."""

    env_var = "SYNCS_TABLE"

    def _key(self, profile_id: str, sync_id: str) -> dict[str, Any]:
        return {"profile_id": {"S": profile_id}, "sync_id": {"S": sync_id}}

    def create(self, item: Mapping[str, Any]) -> None:
        self.ddb.put_item(TableName=self.table, Item=serialize(item),
                          ConditionExpression="attribute_not_exists(sync_id)")

    def get(self, profile_id: str, sync_id: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=self.table, Key=self._key(profile_id, sync_id),
                                 ConsistentRead=True).get("Item")
        return deserialize(item) if item else None

    def list(self, profile_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            response = self.ddb.query(TableName=self.table, KeyConditionExpression="profile_id = :p",
                                      ExpressionAttributeValues={":p": {"S": profile_id}},
                                      ConsistentRead=True, **kwargs)
            found.extend(deserialize(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return found
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def replace(self, item: Mapping[str, Any], expected_version: int) -> bool:
        changes = {k: v for k, v in item.items() if k not in ("profile_id", "sync_id", *RUN_STATE)}
        expression, names, values = _update(changes)
        names["#version_now"] = "version"
        values[":expected"] = num(expected_version)
        try:
            self.ddb.update_item(TableName=self.table,
                                 Key=self._key(str(item["profile_id"]), str(item["sync_id"])),
                                 UpdateExpression=expression, ConditionExpression="#version_now = :expected",
                                 ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except Exception as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def delete(self, profile_id: str, sync_id: str) -> bool:
        response = self.ddb.delete_item(TableName=self.table, Key=self._key(profile_id, sync_id),
                                        ReturnValues="ALL_OLD")
        return bool(response.get("Attributes"))

    def lock_run(self, profile_id: str, sync_id: str, run_id: str, until: float, now: float) -> str | None:
        try:
            self.ddb.update_item(
                TableName=self.table, Key=self._key(profile_id, sync_id),
                UpdateExpression="SET active_run = :run, active_run_until = :until",
                ConditionExpression="attribute_exists(sync_id) AND (attribute_not_exists(active_run) "
                                    "OR active_run = :run OR active_run_until <= :now)",
                ExpressionAttributeValues={":run": {"S": run_id}, ":until": num(round(until, 3)),
                                           ":now": num(round(now, 3))},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
            old = getattr(exc, "response", {}).get("Item") or {}
            return str(old.get("active_run", {}).get("S", "")) if old else ""
        return None

    def unlock_run(self, profile_id: str, sync_id: str, run_id: str) -> None:
        try:
            self.ddb.update_item(TableName=self.table, Key=self._key(profile_id, sync_id),
                                 UpdateExpression="REMOVE active_run, active_run_until",
                                 ConditionExpression="active_run = :run",
                                 ExpressionAttributeValues={":run": {"S": run_id}})
        except Exception as exc:
            if not is_condition_failure(exc):
                raise


    def record_last_run(self, profile_id: str, sync_id: str, summary: Mapping[str, Any]) -> None:
        try:
            self.ddb.update_item(
                TableName=self.table, Key=self._key(profile_id, sync_id),
                UpdateExpression="SET last_run = :run",
                ConditionExpression="attribute_exists(sync_id) AND (attribute_not_exists(last_run) "
                                    "OR last_run.run_id <= :run_id)",
                ExpressionAttributeValues={":run": serialize({"v": dict(summary)})["v"],
                                           ":run_id": {"S": str(summary["run_id"])}})
        except Exception as exc:
            if not is_condition_failure(exc):
                raise


def _run_sk(run_id: str) -> str:
    return f"R#{run_id}"


class DynamoRunStore(Backend):
    """RunStore on SYNC_RUNS_TABLE (see the module docstring for the item layout)."""

    env_var = "SYNC_RUNS_TABLE"

    def _key(self, sync_id: str, sk: str) -> dict[str, Any]:
        return {"sync_id": {"S": sync_id}, "sk": {"S": sk}}

    def create_run(self, record: Mapping[str, Any]) -> bool:
        item = serialize({**record, "sk": _run_sk(str(record["run_id"]))})
        try:
            self.ddb.put_item(TableName=self.table, Item=item,
                              ConditionExpression="attribute_not_exists(sk) OR #ttl <= :now",
                              ExpressionAttributeNames={"#ttl": "ttl"},
                              ExpressionAttributeValues={":now": num(int(self.clock()))})
        except Exception as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def get_run(self, sync_id: str, run_id: str) -> dict[str, Any] | None:
        item = self.ddb.get_item(TableName=self.table, Key=self._key(sync_id, _run_sk(run_id)),
                                 ConsistentRead=True).get("Item")
        record = deserialize(item) if item else None
        return self._live(record)

    def _live(self, record: dict[str, Any] | None) -> dict[str, Any] | None:
        if record is None or float(record.get("ttl") or self.clock() + 1) <= self.clock():
            return None
        record.pop("sk", None)
        return record

    def update_run(self, sync_id: str, run_id: str, changes: Mapping[str, Any], *,
                   only_status: str | None = None) -> bool:
        expression, names, values = _update(changes)
        condition = "attribute_exists(sk)"
        if only_status is not None:
            names["#status_now"] = "status"
            values[":status_now"] = {"S": only_status}
            condition += " AND #status_now = :status_now"
        extra = {"ExpressionAttributeValues": values} if values else {}
        try:
            self.ddb.update_item(TableName=self.table, Key=self._key(sync_id, _run_sk(run_id)),
                                 UpdateExpression=expression, ConditionExpression=condition,
                                 ExpressionAttributeNames=names, **extra)
        except Exception as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def list_runs(self, sync_id: str, limit: int, before: str | None = None) -> list[dict[str, Any]]:
        values: dict[str, Any] = {":s": {"S": sync_id}, ":lo": {"S": "R#"},
                                  ":hi": {"S": _run_sk(before) if before else "R$"}}
        response = self.ddb.query(TableName=self.table,
                                  KeyConditionExpression="sync_id = :s AND sk BETWEEN :lo AND :hi",
                                  ExpressionAttributeValues=values, ScanIndexForward=False,
                                  ConsistentRead=True, Limit=limit + 1)
        runs = [self._live(deserialize(i)) for i in response.get("Items", [])]
        return [r for r in runs if r is not None and r.get("run_id") != before][:limit]

    def put_part(self, sync_id: str, run_id: str, part: Mapping[str, Any]) -> None:
        sk = f"P#{run_id}#{int(part['item']):06d}"
        self.ddb.put_item(TableName=self.table, Item=serialize({**part, "sync_id": sync_id, "sk": sk}))

    def list_parts(self, sync_id: str, run_id: str) -> list[dict[str, Any]]:
        return [self._strip(i) for i in self._query_prefix(sync_id, f"P#{run_id}#")]

    @staticmethod
    def _strip(item: Mapping[str, Any]) -> dict[str, Any]:
        record = deserialize(item)
        record.pop("sk", None)
        return record

    def _query_prefix(self, sync_id: str, prefix: str, after: str | None = None,
                      limit: int | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        condition = "sync_id = :s AND begins_with(sk, :p)"
        values: dict[str, Any] = {":s": {"S": sync_id}, ":p": {"S": prefix}}
        if after is not None:
            kwargs["ExclusiveStartKey"] = self._key(sync_id, after)
        while limit is None or len(found) < limit:
            if limit is not None:
                kwargs["Limit"] = limit - len(found)
            response = self.ddb.query(TableName=self.table, KeyConditionExpression=condition,
                                      ExpressionAttributeValues=values, ConsistentRead=True, **kwargs)
            found.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return found

    def put_outcomes(self, sync_id: str, run_id: str, item: int, page: int,
                     rows: Sequence[Sequence[Any]]) -> None:
        sk = f"O#{run_id}#{item:06d}#{page:06d}"
        self.ddb.put_item(TableName=self.table, Item={
            **self._key(sync_id, sk), "rows": {"B": pack([list(r) for r in rows])},
            "ttl": num(int(self.clock()) + RUN_TTL_SECONDS)})

    def outcome_pages(self, sync_id: str, run_id: str, after: tuple[int, int] | None,
                      limit: int) -> list[tuple[int, int, list[list[Any]]]]:
        start = f"O#{run_id}#{after[0]:06d}#{after[1]:06d}" if after else None
        items = self._query_prefix(sync_id, f"O#{run_id}#", start, limit)
        pages = []
        for raw in items:
            _o, _run, item, page = raw["sk"]["S"].rsplit("#", 3)
            pages.append((int(item), int(page), list(unpack(raw["rows"]["B"]))))
        return pages

