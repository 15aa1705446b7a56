"""A fast path for moto's DynamoDB Query: each partition kept sorted between writes (local use only).

moto answers every Query page by sorting all the items of the table again and walking past the pages
already returned (and deep-copying what it returns), so reading a window of n rows costs O(n²): a
20,000-row preview spent 93% of its time there and hit the gateway's 29 seconds (issue 10). This
patch keeps, per table and index, each partition's items sorted the way DynamoDB orders them
(index range key, then the table's keys), built on the first Query after a write to that table
and reused by every later page until the next write; a page is then two binary searches and a
slice. Writes on one table (the ledger's, while a confirm reads conversions) leave the others'
order alone.

Only what DynamoDB itself does is done: the same items, order, pages (Limit and the 1 MB page size,
LastEvaluatedKey), ScanIndexForward, KeyConditionExpression operators, index projection, filter and
projection expressions; a Query this path does not cover (keys of several attributes, the legacy
QueryFilter/KeyConditions filters on non-key attributes, binary or mixed-type sort keys,
begins_with, a consistent read on a GSI) goes to moto's own code. tests/local/test_moto_index.py
compares both on the same queries. The patch is process-wide and idempotent.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

_MARK = "_capi_writeback_indexed"
_VERSION = "_capi_writeback_version"
_CACHE = "_capi_writeback_index"
_LOCK = threading.RLock()
RESULT_SIZE_LIMIT = 1_000_000  # moto's (and DynamoDB's) 1 MB page
MAX_ITEM_SIZE = 410_000  # moto refuses larger items (DynamoDB: 400 KB)
_BOUNDS: dict[str, Callable[[list[tuple[Any, ...]], list[Any]], tuple[int, int]]] = {
    "=": lambda keys, v: (bisect_left(keys, (v[0],)), bisect_right(keys, (v[0], _TOP))),
    "<": lambda keys, v: (0, bisect_left(keys, (v[0],))),
    "<=": lambda keys, v: (0, bisect_right(keys, (v[0], _TOP))),
    ">": lambda keys, v: (bisect_right(keys, (v[0], _TOP)), len(keys)),
    ">=": lambda keys, v: (bisect_left(keys, (v[0],)), len(keys)),
    "BETWEEN": lambda keys, v: (bisect_left(keys, (v[0],)), bisect_right(keys, (v[1], _TOP))),
}


class _Top:
    """Sorts after every key value: (v, _TOP) is past every key tuple that starts with v."""

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return True


_TOP = _Top()
_ENABLED = [True]


@contextlib.contextmanager
def moto_only() -> Iterator[None]:
    """Let moto answer every Query itself for a while (tests compare both)."""
    _ENABLED[0] = False
    try:
        yield
    finally:
        _ENABLED[0] = True


def install() -> None:
    """Patch moto's Table.query and count writes per table (safe to call twice)."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    if getattr(Table.query, _MARK, False):
        return
    original_query = Table.query

    @functools.wraps(original_query)
    def query(table: Any, *args: Any, **kwargs: Any) -> Any:
        answer = _fast_query(table, *args, **kwargs)
        return answer if answer is not None else original_query(table, *args, **kwargs)

    setattr(query, _MARK, True)
    Table.query = query  # type: ignore[method-assign]
    DynamoHandler.query = _plain_json(DynamoHandler.query)  # type: ignore[method-assign]
    Table.put_item = _counting(Table.put_item, lambda table, *a, **k: table)  # type: ignore[method-assign]
    Table.delete_item = _counting(Table.delete_item, lambda table, *a, **k: table)  # type: ignore[method-assign]
    DynamoDBBackend.update_item = _counting(  # type: ignore[method-assign]
        DynamoDBBackend.update_item, lambda backend, table_name, *a, **k: backend.get_table(table_name))


def _plain_json(method: Callable[..., Any]) -> Callable[..., Any]:
    """A Query answer as its JSON text: moto otherwise walks the botocore shape of every attribute
    of every item to serialize a page (about 0.3 ms an item, most of a local read of 50k rows). The
    JSON is the same; an answer holding binary values keeps moto's serializer (base64 is its job)."""

    @functools.wraps(method)
    def wrapper(handler: Any) -> Any:
        answer = method(handler)
        result = getattr(answer, "result", None)
        if not isinstance(result, dict) or not _ENABLED[0]:
            return answer
        try:
            return json.dumps(result, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return answer

    return wrapper


def note_write(table: Any) -> None:
    """A table changed (the module's own patches call this; so does anything that changes moto's
    items directly, e.g. a bulk load): its sorted partitions are rebuilt on the next Query."""
    with _LOCK:
        setattr(table, _VERSION, getattr(table, _VERSION, 0) + 1)


def _counting(method: Callable[..., Any], table_of: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        finally:
            with contextlib.suppress(Exception):  # e.g. no such table: moto raised, nothing changed
                note_write(table_of(*args, **kwargs))

    return wrapper


def _cast(value: Any) -> Any:
    """A key attribute's value as Python orders it like DynamoDB (N: Decimal, S: str); None when
    this path does not handle its type."""
    kind = getattr(value, "type", None)
    if kind == "N":
        return Decimal(value.value)
    if kind == "S":
        return str(value.value)
    return None


def _plain_cast(value: Any) -> Any:
    """The same for an attribute value as JSON ({"S": ...}) in an ExclusiveStartKey."""
    if isinstance(value, dict) and len(value) == 1:
        (kind, raw), = value.items()
        if kind == "N":
            return Decimal(raw)
        if kind == "S":
            return str(raw)
    return None


def _key_names(table: Any, index_name: str | None) -> tuple[str, str | None] | None:
    """(hash attribute, range attribute) of the table or index queried; None: not a simple key."""
    if index_name is None:
        return table.hash_key_attr, table.range_key_attr
    indexes = {i.name: i for i in table.all_indexes()}
    index = indexes.get(index_name)
    if index is None:
        return None
    hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    if len(hashes) != 1 or len(ranges) > 1:
        return None
    return hashes[0], ranges[0] if ranges else None


def _partitions(table: Any, index_name: str | None, hash_attr: str, range_attr: str | None
                ) -> dict[Any, tuple[list[tuple[Any, ...]], list[Any], list[int]]] | None:
    """{hash value: (sorted keys, items, sizes)} for the table or index, rebuilt after a write (an
    item's size, which moto recomputes per attribute, is filled in the first time it is needed)."""
    version = getattr(table, _VERSION, 0)
    cache: dict[Any, Any] = table.__dict__.setdefault(_CACHE, {})
    cached = cache.get(index_name)
    if cached is not None and cached[0] == version:
        return cached[1]  # type: ignore[no-any-return]
    table_keys = [a for a in (table.hash_key_attr, table.range_key_attr) if a] if index_name else []
    groups: dict[Any, list[tuple[tuple[Any, ...], Any]]] = {}
    for item in table.all_items():
        attrs = item.attrs
        if hash_attr not in attrs or (range_attr is not None and range_attr not in attrs):
            continue  # not in the index (DynamoDB indexes items that have its key attributes)
        parts = [_cast(attrs[range_attr])] if range_attr is not None else []
        parts += [_cast(attrs[name]) for name in table_keys]
        hash_value = _cast(attrs[hash_attr])
        if hash_value is None or any(part is None for part in parts):
            return None  # a binary or odd key: moto's own code
        groups.setdefault(hash_value, []).append((tuple(parts), item))
    built: dict[Any, tuple[list[tuple[Any, ...]], list[Any], list[int]]] = {}
    for hash_value, entries in groups.items():
        entries.sort(key=lambda entry: entry[0])
        built[hash_value] = ([key for key, _ in entries], [item for _, item in entries], [-1] * len(entries))
    cache[index_name] = (version, built)
    return built


def _fast_query(table: Any, hash_key: Any, range_comparison: str | None, range_objs: list[Any],
                limit: int | None, exclusive_start_key: dict[str, Any] | None, scan_index_forward: bool,
                projection_expressions: list[list[str]] | None, index_name: str | None = None,
                consistent_read: bool = False, filter_expression: Any = None,
                hash_key_conditions: list[tuple[str, Any]] | None = None,
                range_key_conditions: list[tuple[str, str, list[Any]]] | None = None,
                **filter_kwargs: Any) -> tuple[list[Any], int, dict[str, Any] | None] | None:
    """The page moto would answer, or None to let moto answer it."""
    if not _ENABLED[0] or filter_kwargs or (consistent_read and index_name is not None):
        return None
    names = _key_names(table, index_name)
    if names is None or not hash_key_conditions or len(hash_key_conditions) != 1:
        return None
    hash_attr, range_attr = names
    if hash_key_conditions[0][0] != hash_attr or len(range_key_conditions or []) > 1:
        return None
    if range_key_conditions and (range_attr is None or range_key_conditions[0][0] != range_attr):
        return None
    if range_comparison is not None and range_comparison not in _BOUNDS:
        return None
    bounds = [_cast(value) for value in range_objs]
    if any(bound is None for bound in bounds):
        return None
    with _LOCK:
        partitions = _partitions(table, index_name, hash_attr, range_attr)
    if partitions is None:
        return None
    hash_value = _cast(hash_key)
    if hash_value is None:
        return None
    keys, items, sizes = partitions.get(hash_value, ([], [], []))
    if keys and any(type(bound) is not type(keys[0][0]) for bound in bounds):
        return None  # a number compared with a string key: moto's own code decides
    low, high = (0, len(keys)) if range_comparison is None else _BOUNDS[range_comparison](keys, bounds)

    if exclusive_start_key is not None:
        table_keys = [a for a in (table.hash_key_attr, table.range_key_attr) if a] if index_name else []
        attrs = ([range_attr] if range_attr is not None else []) + table_keys
        if any(name not in exclusive_start_key for name in attrs):
            return None
        start = tuple(_plain_cast(exclusive_start_key[name]) for name in attrs)
        if any(part is None for part in start):
            return None
        if scan_index_forward:
            low = max(low, bisect_right(keys, start))
        else:
            high = min(high, bisect_left(keys, start))
    positions = range(low, high) if scan_index_forward else range(high - 1, low - 1, -1)

    results: list[Any] = []
    size = 0
    last_evaluated_key = None
    for position in positions:
        item = items[position]
        item_size = sizes[position]
        if item_size < 0:
            item_size = sizes[position] = item.size()
        if len(results) == limit or size + item_size > RESULT_SIZE_LIMIT:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
            break
        results.append(item)
        size += item_size
    else:
        # moto goes on walking the partition past the range (skipping those items) and still
        # stops with a LastEvaluatedKey when the limit is reached or the next item would not fit.
        rest = range(high, len(keys)) if scan_index_forward else range(low - 1, -1, -1)
        if results and len(rest) and (len(results) == limit or (
                size + MAX_ITEM_SIZE > RESULT_SIZE_LIMIT  # only then can an item fail to fit
                and any(size + items[p].size() > RESULT_SIZE_LIMIT for p in rest))):
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
    scanned = len(results)
    if index_name is not None:
        index = table.get_index(index_name)
        results = [index.project(item) for item in results]
    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection_expressions:
        results = [_project(item, projection_expressions) for item in results]
    return results, scanned, last_evaluated_key


def _project(item: Any, paths: list[list[str]]) -> Any:
    """A new item with the projected attributes (top-level names share their values; nested paths
    go through moto's own projection)."""
    if any(len(path) != 1 for path in paths):
        return item.project(paths)
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    projected = Item.__new__(Item)
    projected.hash_key = item.hash_key
    projected.range_key = item.range_key
    attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    for (name,) in paths:
        if name in item.attrs:
            dict.__setitem__(attrs, name, item.attrs[name])
    projected.attrs = attrs
    return projected


def bulk_load(table: Any, items: Iterable[dict[str, Any]]) -> int:
    """Put items (DynamoDB JSON: {"attr": {"S": ...}}) straight into a moto table, without the
    per-request and per-attribute checks of PutItem: a million stored rows in seconds instead of
    40,000 BatchWriteItem calls (benchmarks, local seeding). The caller vouches that every item is
    one DynamoDB would accept (keys present, under 400 KB); a later item with the same key replaces
    the earlier one, as PutItem does. The number loaded."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    hash_attr, range_attr = table.hash_key_attr, table.range_key_attr
    loaded = 0
    for raw in items:
        item = Item.__new__(Item)
        attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        for name, value in raw.items():
            dict.__setitem__(attrs, name, DynamoType(value))
        item.attrs = attrs
        item.hash_key = attrs[hash_attr]
        item.range_key = attrs[range_attr] if range_attr else None
        if range_attr:
            table.items[item.hash_key][item.range_key] = item
        else:
            table.items[item.hash_key] = item
        loaded += 1
    note_write(table)
    return loaded
