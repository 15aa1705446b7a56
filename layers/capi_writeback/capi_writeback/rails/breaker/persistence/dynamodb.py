"""The breaker windows on BREAKER_TABLE: one item per profile {failures: [N...], version, ttl}."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from capi_writeback.rails.breaker.persistence.base import EMPTY, FailureLog
from capi_writeback.store._dynamo import Backend, is_condition_failure, num


def _failure_log(item: Mapping[str, Any] | None) -> FailureLog:
    if not item:
        return EMPTY
    failures = tuple(float(v["N"]) for v in item.get("failures", {}).get("L", []))
    return FailureLog(failures=failures, version=int(item.get("version", {}).get("N", "0")))


class DynamoBreakerStore(Backend):
    """BreakerStore on BREAKER_TABLE."""

    env_var = "BREAKER_TABLE"

    def get(self, profile_id: str) -> FailureLog:
        response = self.ddb.get_item(TableName=self.table, Key={"profile_id": {"S": profile_id}},
                                     ConsistentRead=True)
        return _failure_log(response.get("Item"))

    def append(self, profile_id: str, at: float, ttl: float) -> FailureLog:
        response = self.ddb.update_item(
            TableName=self.table, Key={"profile_id": {"S": profile_id}},
            UpdateExpression="SET failures = list_append(if_not_exists(failures, :empty), :at), "
                             "#ttl = :ttl ADD version :one",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":empty": {"L": []}, ":at": {"L": [num(round(at, 3))]},
                                       ":ttl": num(int(ttl) + 1), ":one": {"N": "1"}},
            ReturnValues="ALL_NEW")
        return _failure_log(response["Attributes"])

    def replace(self, profile_id: str, failures: Sequence[float], version: int) -> bool:
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"profile_id": {"S": profile_id}},
                UpdateExpression="SET failures = :failures ADD version :one",
                ConditionExpression="version = :version",
                ExpressionAttributeValues={":failures": {"L": [num(round(t, 3)) for t in failures]},
                                           ":version": num(version), ":one": {"N": "1"}})
        except Exception as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def clear(self, profile_id: str, only_if_any: bool = False) -> None:
        kwargs: dict[str, Any] = {}
        values: dict[str, Any] = {":empty": {"L": []}, ":one": {"N": "1"}}
        if only_if_any:
            kwargs["ConditionExpression"] = "attribute_exists(failures) AND size(failures) > :zero"
            values[":zero"] = {"N": "0"}
        try:
            self.ddb.update_item(
                TableName=self.table, Key={"profile_id": {"S": profile_id}},
                UpdateExpression="SET failures = :empty ADD version :one",
                ExpressionAttributeValues=values, **kwargs)
        except Exception as exc:
            if not is_condition_failure(exc):
                raise
