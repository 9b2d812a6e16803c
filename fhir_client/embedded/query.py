"""FHIR search query string -> SQL over the index tables, with FHIR R4 semantics.

Rules that matter for matching HAPI FHIR id-for-id:
- comma-separated values of one parameter are OR-ed; a repeated parameter is
  AND-ed (each repetition is its own `rid IN (...)` condition);
- token codes are compared case-sensitively; `code`, `system|code`, `|code`
  and `system|` are all supported;
- empty values are ignored, as HAPI ignores them;
- anything we cannot answer exactly (an unknown parameter, modifier, prefix or
  chained parameter) raises SearchError, which the facade turns into a 400
  OperationOutcome naming it, never a silently wider result.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from fhir_client.embedded import dates
from fhir_client.embedded.elements import parse_elements
from fhir_client.embedded.errors import SearchError as SearchError  # re-exported
from fhir_client.embedded.errors import UnknownResourceType as UnknownResourceType
from fhir_client.embedded.extract import parse_reference
from fhir_client.embedded.includes import Include, parse_include
from fhir_client.embedded.registry import (
    REGISTRY,
    RESULT_PARAMS,
    SPECIAL_PARAMS,
    ParamKind,
    SearchParam,
    date_params,
)
from fhir_client.embedded.registry import check_type as check_type  # re-exported
from fhir_client.embedded.summary import SummaryView, parse_summary
from fhir_client.embedded.text_search import normalize_string
from fhir_client.ids import is_resource_type

DEFAULT_COUNT = 50
MAX_COUNT = 1000

_MODIFIERS: dict[ParamKind, tuple[str, ...]] = {
    ParamKind.TOKEN: ("missing", "not"),
    ParamKind.REFERENCE: ("missing",),  # plus a resource type, e.g. subject:Patient
    ParamKind.DATE: ("missing",),
    ParamKind.STRING: ("missing", "exact", "contains"),
}
_TABLE = {
    ParamKind.TOKEN: "idx_token",
    ParamKind.REFERENCE: "idx_ref",
    ParamKind.DATE: "idx_date",
    ParamKind.STRING: "idx_string",
}
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


_LAST_UPDATED = SearchParam("_lastUpdated", ParamKind.DATE, (), "Resource.meta.lastUpdated")


@dataclass(slots=True)
class SearchQuery:
    """A parsed search: SQL conditions on `resource r` plus result shaping."""

    resource_type: str
    where: list[str] = field(default_factory=list)
    args: list[object] = field(default_factory=list)
    order_by: str = "r.rid"
    order_args: list[object] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    summary_count: bool = False
    include_total: bool = True
    includes: list[Include] = field(default_factory=list)
    elements: tuple[str, ...] = ()
    summary: SummaryView | None = None


def _unescape(value: str) -> str:
    return value.replace("\\,", ",").replace("\\|", "|").replace("\\$", "$").replace("\\\\", "\\")


def split_values(raw: str) -> list[str]:
    """Split a parameter value on unescaped commas, dropping empty parts."""
    return [part for part in _UNESCAPED_COMMA.split(raw) if part != ""]


def _int(name: str, raw: str, *, low: int, high: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SearchError(f"{name} must be an integer, got {raw!r}") from None
    if value < low:
        raise SearchError(f"{name} must be >= {low}, got {value}")
    return min(value, high) if high is not None else value


def parse_search(resource_type: str, items: Sequence[tuple[str, str]]) -> SearchQuery:
    """Build a SearchQuery from the request's (name, value) pairs, in order."""
    check_type(resource_type)
    query = SearchQuery(resource_type)
    params = REGISTRY[resource_type]
    for raw_name, raw_value in items:
        name, _, modifier = raw_name.partition(":")
        if name in ("_include", "_revinclude"):
            query.includes.append(
                parse_include(name, modifier, raw_value, resource_type, len(query.includes))
            )
        elif name in RESULT_PARAMS:
            _result_param(query, name, raw_value)
        elif "." in name:
            raise SearchError(
                f"Chained parameter {raw_name!r} is not supported by the embedded store; "
                "search the referenced type first, then filter by its ids"
            )
        elif name == "_id":
            _id_param(query, raw_name, modifier, raw_value)
        elif name == "_lastUpdated":
            _filter(query, _LAST_UPDATED, raw_name, modifier, raw_value)
        elif name in params:
            _filter(query, params[name], raw_name, modifier, raw_value)
        else:
            supported = sorted([*SPECIAL_PARAMS, *params, *RESULT_PARAMS])
            raise SearchError(
                f"Unknown or unsupported search parameter {raw_name!r} for {resource_type}. "
                f"Supported: {', '.join(supported)}"
            )
    check_views(query.elements, query.summary)
    return query


def check_views(elements: tuple[str, ...], summary: SummaryView | None) -> None:
    """Refuse ``_elements`` with a ``_summary`` view: R4 does not say which one wins."""
    if elements and summary is not None:
        raise SearchError(
            f"_elements and _summary={summary} ask for two different subsets; "
            "send one of them (or _summary=false with _elements)"
        )


def _result_param(query: SearchQuery, name: str, raw: str) -> None:
    if name == "_count":
        query.count = _int("_count", raw, low=0, high=MAX_COUNT)
    elif name == "_offset":
        query.offset = _int("_offset", raw, low=0, high=2**63 - 1)  # SQLite INTEGER max
    elif name == "_summary":
        query.summary_count = raw == "count"
        query.summary = None if query.summary_count else parse_summary(raw)
    elif name == "_total":
        if raw not in ("accurate", "estimate", "none"):
            raise SearchError(f"_total must be accurate, estimate or none, got {raw!r}")
        query.include_total = raw != "none"
    elif name == "_totalMethod":  # Aidbox's spelling of _total; fhirpy's count() sends it
        if raw not in ("count", "estimate", "none"):
            raise SearchError(f"_totalMethod must be count, estimate or none, got {raw!r}")
        query.include_total = raw != "none"
    elif name == "_format":
        pass  # checked for every request by formats.py (406 for what is not JSON)
    elif name == "_elements":
        query.elements = parse_elements(query.resource_type, raw)
    elif name == "_sort":
        _sort_param(query, raw)
    else:
        raise SearchError(f"{name} is not supported by the embedded store; omit it")


def _sort_param(query: SearchQuery, raw: str) -> None:
    allowed = date_params(query.resource_type)
    keys: list[str] = []
    args: list[object] = []
    for item in split_values(raw):
        descending = item.startswith("-")
        key = item.lstrip("-")
        direction = "DESC" if descending else "ASC"
        if key == "_id":
            keys.append(f"r.res_id {direction}")
        elif key == "_lastUpdated":
            keys.append(f"r.last_updated {direction}")
        elif key in allowed:
            keys.append(
                "(SELECT MIN(d.low_ms) FROM idx_date d WHERE d.rid = r.rid AND d.param = ?) "
                f"{direction} NULLS LAST"
            )
            args.append(key)
        else:
            raise SearchError(
                f"_sort={item} is not supported for {query.resource_type}; sort by one of: "
                + ", ".join(["_id", "_lastUpdated", *allowed])
            )
    if keys:
        query.order_by = ", ".join([*keys, "r.res_id ASC"])
        query.order_args = args


def _id_param(query: SearchQuery, raw_name: str, modifier: str, raw: str) -> None:
    if modifier:
        raise SearchError(f"Modifier in {raw_name!r} is not supported; use plain _id")
    ids = [_unescape(v) for v in split_values(raw)]
    if ids:
        # Through the (res_type, res_id) index: the search's `+r.res_type` test keeps
        # SQLite off that index for `r` itself, and `r.res_id IN` alone scanned the table.
        query.where.append(
            f"r.rid IN (SELECT rid FROM resource WHERE res_type = ? AND "
            f"res_id IN ({', '.join('?' * len(ids))}))"
        )
        query.args.extend([query.resource_type, *ids])


def _filter(query: SearchQuery, param: SearchParam, raw_name: str, modifier: str, raw: str) -> None:
    is_type_modifier = param.kind is ParamKind.REFERENCE and is_resource_type(modifier)
    if modifier and not is_type_modifier and modifier not in _MODIFIERS[param.kind]:
        raise SearchError(
            f"Modifier :{modifier} in {raw_name!r} is not supported for {param.kind} "
            f"parameters; supported modifiers: "
            + ", ".join(f":{m}" for m in _MODIFIERS[param.kind])
        )
    table = _TABLE[param.kind]
    if modifier == "missing":
        if raw not in ("true", "false"):
            raise SearchError(f"{raw_name} must be true or false, got {raw!r}")
        negate = "NOT " if raw == "true" else ""
        query.where.append(
            f"{negate}EXISTS (SELECT 1 FROM {table} m WHERE m.rid = r.rid AND m.param = ?)"
        )
        query.args.append(param.name)
        return
    values = split_values(raw)
    if not values:
        return
    conditions: list[str] = []
    args: list[object] = []
    for value in values:
        if param.kind is ParamKind.TOKEN:
            _token_condition(value, conditions, args)
        elif param.kind is ParamKind.REFERENCE:
            type_modifier = modifier if is_type_modifier else ""
            _reference_condition(param, type_modifier, value, conditions, args)
        elif param.kind is ParamKind.DATE:
            _date_condition(raw_name, value, conditions, args)
        else:
            _string_condition(modifier, value, conditions, args)
    operator = "NOT IN" if modifier == "not" else "IN"
    query.where.append(
        f"r.rid {operator} (SELECT rid FROM {table} WHERE res_type = ? AND param = ? AND "
        f"({' OR '.join(conditions)}))"
    )
    query.args.extend([query.resource_type, param.name, *args])


def _token_condition(value: str, conditions: list[str], args: list[object]) -> None:
    parts = _UNESCAPED_PIPE.split(value, maxsplit=1)
    if len(parts) == 1:
        conditions.append("code = ?")
        args.append(_unescape(parts[0]))
        return
    system, code = _unescape(parts[0]), _unescape(parts[1])
    if code == "":
        conditions.append("system = ?")
        args.append(system)
    else:
        conditions.append("(system = ? AND code = ?)")
        args.extend([system, code])


def _reference_condition(
    param: SearchParam, type_modifier: str, value: str, conditions: list[str], args: list[object]
) -> None:
    value = _unescape(value)
    if "/" in value:
        target = parse_reference(value)
        if target is None:
            raise SearchError(
                f"{param.name}={value!r} is not a reference the store understands; "
                "use id, Type/id or an absolute URL ending in Type/id"
            )
        conditions.append("(target_id = ? AND target_type = ?)")
        args.extend([target[1], target[0]])
    elif type_modifier:
        conditions.append("(target_id = ? AND target_type = ?)")
        args.extend([value, type_modifier])
    else:
        conditions.append("target_id = ?")
        args.append(value)


def _date_condition(name: str, value: str, conditions: list[str], args: list[object]) -> None:
    try:
        prefix, search_range = dates.parse_search_date(value)
    except ValueError as exc:
        raise SearchError(f"Invalid value for date parameter {name!r}: {exc}") from None
    ordinal = search_range.precision <= dates.Precision.DAY
    lo, hi = ("low_ord", "high_ord") if ordinal else ("low_ms", "high_ms")
    conditions.append(dates.PREFIX_CONDITIONS[prefix].format(lo=lo, hi=hi))
    args.extend(dates.prefix_bounds(prefix, search_range, ordinal=ordinal))


def _string_condition(modifier: str, value: str, conditions: list[str], args: list[object]) -> None:
    value = _unescape(value)
    if modifier == "exact":
        conditions.append("exact = ?")
        args.append(value)
    elif modifier == "contains":
        escaped = normalize_string(value).replace("\\", "\\\\").replace("%", "\\%")
        conditions.append("norm LIKE ? ESCAPE '\\'")
        args.append("%" + escaped.replace("_", "\\_") + "%")
    else:
        norm = normalize_string(value)
        conditions.append("(norm >= ? AND norm < ?)")
        args.extend([norm, norm + "\U0010ffff"])
