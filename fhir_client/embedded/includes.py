"""``_include`` and ``_revinclude``: the resources a page of matches points at, or is
pointed at by, added to the searchset with ``search.mode = include``.

Supported forms are the ones clients send (fhirpy, HAPI's client, SMART apps):
``Type:param``, ``Type:param:Target`` and ``*``. ``:iterate``/``:recurse`` are refused
with a 400 rather than answered one level deep, which would be a silently short
answer. What one page may add is bounded by ``MAX_INCLUDED_PER_PAGE``; when the bound
is hit the page says so in an OperationOutcome entry.

The SQL is built here from fixed text and bound parameters and run by
``EmbeddedStore.rows_matching``, as query.py builds a search for ``store.search``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fhir_client.embedded.errors import SearchError
from fhir_client.embedded.extract import ALL_REFERENCES
from fhir_client.embedded.registry import REGISTRY, ParamKind
from fhir_client.limits import MAX_INCLUDE_PARAMS, MAX_INCLUDED_PER_PAGE

if TYPE_CHECKING:
    from fhir_client.embedded.store import EmbeddedStore

Row = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Include:
    """One ``_include`` (forward) or ``_revinclude`` (reverse) request.

    ``source_type`` holds the reference, ``param`` is the reference parameter (or the
    every-reference index for ``*``), ``target_type`` optionally narrows what it points at.
    A wildcard has no source type: any type's references count.
    """

    reverse: bool
    source_type: str | None
    param: str
    target_type: str | None = None


def parse_include(
    name: str, modifier: str, raw: str, searched_type: str, count_so_far: int
) -> Include:
    """Parse one ``_include``/``_revinclude`` value; SearchError says what to send instead."""
    reverse = name == "_revinclude"
    if modifier:
        raise SearchError(
            f"{name}:{modifier} is not supported by the embedded store; send {name} "
            "without a modifier and fetch further levels with another search"
        )
    if count_so_far >= MAX_INCLUDE_PARAMS:
        raise SearchError(
            f"At most {MAX_INCLUDE_PARAMS} _include/_revinclude values per search; split the search"
        )
    if raw == "*":
        return Include(reverse, None, ALL_REFERENCES)
    parts = raw.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise SearchError(f"{name}={raw!r} is not of the form Type:param, Type:param:Target or *")
    source, param = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    for rtype in (source, target):
        if rtype is not None and rtype not in REGISTRY:
            raise SearchError(f"{name}={raw!r} names {rtype!r}, a type this store does not hold")
    if not reverse and source != searched_type:
        raise SearchError(
            f"_include={raw} starts from {source} but this search returns {searched_type}; "
            f"use _include={searched_type}:<param>"
        )
    if param == "*":
        return Include(reverse, source, ALL_REFERENCES, target)
    spec = REGISTRY[source].get(param)
    if spec is None or spec.kind is not ParamKind.REFERENCE:
        references = sorted(
            p.name for p in REGISTRY[source].values() if p.kind is ParamKind.REFERENCE
        )
        raise SearchError(
            f"{name}={raw}: {param!r} is not a reference parameter of {source}; "
            f"its reference parameters: {', '.join(references) or 'none'}"
        )
    return Include(reverse, source, param, target)


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _condition(include: Include, matched_type: str, ids: Sequence[str]) -> tuple[str, list[object]]:
    """SQL on ``resource r`` selecting what ``include`` adds for the matched ids."""
    if include.reverse:
        sources = [include.source_type] if include.source_type else sorted(REGISTRY)
        args: list[object] = [*sources, include.param]
        sql = (
            f"r.rid IN (SELECT f.rid FROM idx_ref f WHERE f.res_type IN ({_marks(sources)}) "
            f"AND f.param = ? AND f.target_id IN ({_marks(ids)}) AND f.target_type = ?)"
        )
        args.extend([*ids, matched_type])
        return sql, args
    # Driven from the page's own rows (CROSS JOIN fixes SQLite's join order): starting
    # from the reference index instead scanned every reference of the type, ~10x slower.
    sql = (
        "r.rid IN (SELECT t.rid FROM resource m CROSS JOIN idx_ref f ON f.rid = m.rid "
        "CROSS JOIN resource t ON t.res_type = f.target_type AND t.res_id = f.target_id "
        f"WHERE m.res_type = ? AND m.res_id IN ({_marks(ids)}) AND f.param = ?"
    )
    args = [matched_type, *ids, include.param]
    if include.target_type is not None:
        sql += " AND f.target_type = ?"
        args.append(include.target_type)
    return sql + ")", args


def included_rows(
    store: EmbeddedStore, matched_type: str, matches: Sequence[Row], includes: Sequence[Include]
) -> tuple[list[Row], bool]:
    """The resources ``includes`` add to a page of ``matches``, and whether the bound cut them.

    A resource already on the page (as a match or an earlier include) is not repeated.
    """
    if not includes or not matches:
        return [], False
    ids = [rid for _, rid, _ in matches]
    seen = {(rtype, rid) for rtype, rid, _ in matches}
    added: list[Row] = []
    for include in includes:
        if include.reverse and include.target_type not in (None, matched_type):
            continue  # `_revinclude=X:p:Other` points at other types: nothing on this page
        room = MAX_INCLUDED_PER_PAGE - len(added)
        condition, args = _condition(include, matched_type, ids)
        for row in store.rows_matching(condition, args, room + len(seen) + 1):
            if (row[0], row[1]) in seen:
                continue
            if len(added) == MAX_INCLUDED_PER_PAGE:
                return added, True
            seen.add((row[0], row[1]))
            added.append(row)
    return added, False


def truncation_outcome() -> dict[str, object]:
    """The OperationOutcome a page carries when its includes hit the bound."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "warning",
                "code": "too-costly",
                "diagnostics": (
                    f"_include/_revinclude added the first {MAX_INCLUDED_PER_PAGE} resources "
                    "to this page and left out the rest; ask for a smaller _count"
                ),
            }
        ],
    }
