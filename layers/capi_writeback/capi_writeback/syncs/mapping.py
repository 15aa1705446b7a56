"""A sync's mapping (SPEC §10): which model column (or constant) gives each conversion-row key.

`{"event_name": {"column": "event"}, "action_source": {"value": "website"}, "em": {"column": "mail"}}`
maps targets to sources; a target is a row key of SPEC §4 or any spelling the field registry knows
(`em`, `event_time`, ...), and `primary_key` names the column that becomes `conversion_id`.

`problems()` says everything wrong with a mapping at once (each problem names its field), so a save
is refused with all of them; `SyncMapping.rows()` applies a valid mapping to the rows read from an
export. Only mapped columns are used: a column the mapping does not name is ignored (and reported)
even if it happens to be called `email`. A mapped column is found by its exact name, else by its
name in any case (Snowflake exports upper-case headers).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from capi_writeback import fields
from capi_writeback.mapping import EventNameError, event_table, resolve_event_name
from capi_writeback.reading import InvalidRow
from capi_writeback.rows import canonical_key
from capi_writeback.validate import action_source_problem

Problem = dict[str, str]

MAX_NOTED_COLUMNS = 20
_SHAPES_KEPT = 256
_NOT_TARGETS = frozenset({"conversion_id", "_warnings"})


@dataclass(frozen=True)
class Source:
    """Where one row key comes from: a column of the export, or a constant."""

    key: str  # canonical row key
    column: str | None = None
    value: Any = None


def problems(mapping: Mapping[str, Any], primary_key: Any,
             profile_events: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem of a mapping, each naming its field; empty when it is valid.

    `profile_events` is the profile's outcome -> event mapping (constant outcome types are checked
    against it)."""
    found: list[Problem] = []
    if not isinstance(primary_key, str) or not primary_key.strip():
        found.append(_problem("primary_key", "required: the column that identifies a row (it becomes "
                                             "conversion_id)"))
    if not isinstance(mapping, Mapping) or not mapping:
        found.append(_problem("mapping", "required: an object of row key -> {\"column\": ...} or "
                                         "{\"value\": ...}"))
        return found
    sources: dict[str, Source] = {}
    for target, spec in mapping.items():
        place = f"mapping.{target}"
        key = canonical_key(target) if isinstance(target, str) else None
        if isinstance(target, str) and fields.spelling(target) == "conversion_id":
            found.append(_problem(place, "conversion_id comes from primary_key: remove it from the mapping"))
            continue
        if key is None or key in _NOT_TARGETS:
            found.append(_problem(place, f"unknown target '{str(target)[:64]}': use a conversion-row key of "
                                         "SPEC §4 (email, occurred_at, value, ...) or its CAPI name (em, "
                                         "event_time, ...)"))
            continue
        if key in sources:
            found.append(_problem(place, f"'{target}' and another target both mean '{key}': keep one (a "
                                         "column holding a JSON list gives several values)"))
            continue
        source, problem = _source(key, spec, place, profile_events)
        if problem is not None:
            found.append(problem)
        if source is not None:
            sources[key] = source
    if sources or not found:
        found.extend(_required(sources, profile_events))
    return found


def _problem(field_name: str, message: str) -> Problem:
    return {"field": field_name, "message": message}


def _source(key: str, spec: Any, place: str,
            profile_events: Mapping[str, str] | None) -> tuple[Source | None, Problem | None]:
    if not isinstance(spec, Mapping) or len(spec) != 1 or not ({"column", "value"} & set(spec)):
        return None, _problem(place, "must be {\"column\": \"<model column>\"} or {\"value\": <constant>}")
    if "column" in spec:
        column = spec["column"]
        if not isinstance(column, str) or not column.strip():
            return None, _problem(f"{place}.column", "must be a non-empty column name")
        return Source(key, column=column), None
    value = spec["value"]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
        return None, _problem(f"{place}.value", "must be a non-empty string or a number")
    problem = _constant_problem(key, value, profile_events)
    return Source(key, value=value), (_problem(f"{place}.value", problem) if problem else None)


def _constant_problem(key: str, value: Any, profile_events: Mapping[str, str] | None) -> str | None:
    if key == "action_source":
        found = action_source_problem(str(value).strip().lower())
        return found.detail if found else None
    if key in ("event_name", "outcome_type"):
        try:
            _event_name({key: value}, profile_events)
        except EventNameError as exc:
            return str(exc)
    return None


def _event_name(constants: Mapping[str, Any], profile_events: Mapping[str, str] | None) -> str:
    event = constants.get("event_name")
    outcome = constants.get("outcome_type")
    return resolve_event_name(str(event) if event is not None else None,
                              str(outcome) if outcome is not None else None, event_table(profile_events))


def _required(sources: Mapping[str, Source], profile_events: Mapping[str, str] | None) -> list[Problem]:
    found = []
    if "occurred_at" not in sources:
        found.append(_problem("mapping.occurred_at", "required: map the column holding the conversion time "
                                                     "(occurred_at or event_time)"))
    if "event_name" not in sources and "outcome_type" not in sources:
        found.append(_problem("mapping.event_name", "required: map event_name or outcome_type (a column or "
                                                    "a constant)"))
    if not any(fields.FIELDS[k].identifier for k in sources) and "fbclid" not in sources:
        found.append(_problem("mapping", "no customer identifier is mapped: map at least one of email, "
                                         "phone, external_id, fbc, fbp, client_ip_address + "
                                         "client_user_agent, ..."))
    constants = {k: s.value for k, s in sources.items() if s.column is None}
    if str(constants.get("action_source", "")).strip().lower() == "website":
        for needed in ("event_source_url", "client_user_agent"):
            if needed not in sources:
                found.append(_problem(f"mapping.{needed}", "required when action_source is website"))
    if "event_name" in constants or "outcome_type" in constants:
        try:
            purchase = _event_name(constants, profile_events) == "Purchase"
        except EventNameError:
            purchase = False  # reported with the constant itself
        if purchase and "value" not in sources:
            found.append(_problem("mapping.value", "required: every Purchase needs a value"))
    return found


@dataclass
class ColumnNotes:
    """What applying a mapping noticed about the export's columns (bounded lists of names)."""

    unmapped: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)

    def warnings(self) -> list[str]:
        out = []
        if self.missing:
            out.append("mapped column(s) not in the export: " + ", ".join(sorted(self.missing)))
        if self.unmapped:
            out.append("ignored column(s) the mapping does not name: " + ", ".join(sorted(self.unmapped)))
        return out

    def _note(self, names: set[str], column: str) -> None:
        if len(names) < MAX_NOTED_COLUMNS:
            names.add(column[:64])


class SyncMapping:
    """A valid mapping, ready to apply (build it with `SyncMapping.of`)."""

    def __init__(self, sources: Iterable[Source], primary_key: str) -> None:
        self.sources = tuple(sources)
        self.primary_key = primary_key
        self.columns = tuple(s for s in self.sources if s.column is not None)
        self.constants = {s.key: s.value for s in self.sources if s.column is None}
        self.notes = ColumnNotes()
        self._shapes: dict[tuple[Any, ...], tuple[tuple[tuple[str, Any], ...], Any]] = {}

    @classmethod
    def of(cls, mapping: Mapping[str, Mapping[str, Any]], primary_key: str) -> SyncMapping:
        """The mapping of a stored definition (validated by `problems` when it was saved); ValueError
        for a target that no longer means a row key."""
        sources = []
        for target, spec in mapping.items():
            key = canonical_key(target)
            if key is None or key in _NOT_TARGETS:
                raise ValueError(f"mapping target '{str(target)[:64]}' is not a conversion-row key")
            sources.append(Source(key, column=spec.get("column"), value=spec.get("value")))
        return cls(sources, primary_key)

    def header_columns(self) -> dict[str, str]:
        """Model column -> row key, for the CSV header check of `reading.read_rows`."""
        out = {s.column: s.key for s in self.columns if s.column is not None}
        out[self.primary_key] = "conversion_id"
        return out

    def rows(self, raw_rows: Iterable[Mapping[str, Any] | InvalidRow]
             ) -> Iterator[dict[str, Any] | InvalidRow]:
        """Each row under its row keys (`conversion_id` from the primary key, constants added); a row
        that could not be read stays an InvalidRow, so row numbers stay aligned."""
        constants = self.constants
        for raw in raw_rows:
            if not isinstance(raw, Mapping):
                yield raw if isinstance(raw, InvalidRow) else InvalidRow("a row must be an object")
                continue
            plan, primary = self._plan(tuple(raw))
            row: dict[str, Any] = dict(constants)
            for key, column in plan:
                value = raw[column]
                if value is not None and value != "":
                    row[key] = value
            if primary is not None:
                row["conversion_id"] = raw[primary]
            yield row

    def _plan(self, keys: tuple[Any, ...]) -> tuple[tuple[tuple[str, Any], ...], Any]:
        """Where each mapped column is among `keys` (exact name, else any case); once per row shape."""
        found = self._shapes.get(keys)
        if found is not None:
            return found
        folded = {str(k).casefold(): k for k in reversed(keys)}
        present = set(keys)

        def locate(column: str) -> Any:
            if column in present:
                return column
            return folded.get(column.casefold())

        plan = []
        used = set()
        for source in self.columns:
            assert source.column is not None
            actual = locate(source.column)
            if actual is None:
                self.notes._note(self.notes.missing, source.column)
                continue
            plan.append((source.key, actual))
            used.add(actual)
        primary = locate(self.primary_key)
        if primary is None:
            self.notes._note(self.notes.missing, self.primary_key)
        else:
            used.add(primary)
        for key in keys:
            if key not in used:
                self.notes._note(self.notes.unmapped, str(key))
        result = (tuple(plan), primary)
        if len(self._shapes) < _SHAPES_KEPT:
            self._shapes[keys] = result
        return result
