"""``_include`` and ``_revinclude``: the resources a page of matches points at, or is
pointed at by, added to the searchset with ``search.mode = include``.

Supported forms are the ones clients send (fhirpy, HAPI's client, SMART apps):
``Type:param``, ``Type:param:Target`` and ``*``, each also with ``:iterate`` (R4; its
R3 name ``:recurse`` and fhirpy's ``:recursive`` are accepted too), which applies to
the included resources as well, round after round, until a round adds nothing. What
one page may add is bounded by ``MAX_INCLUDED_PER_PAGE`` resources and
``MAX_INCLUDE_ROUNDS`` rounds; when a bound is hit the page says so in an
OperationOutcome entry.

The SQL is built here from fixed text and bound parameters and run by
``EmbeddedStore.rows_matching``, as query.py builds a search for ``store.search``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fhir_client.embedded.compartment import ALL_REFERENCES
from fhir_client.embedded.errors import SearchError
from fhir_client.embedded.registry import REGISTRY, ParamKind
from fhir_client.limits import MAX_INCLUDE_PARAMS, MAX_INCLUDE_ROUNDS, MAX_INCLUDED_PER_PAGE

if TYPE_CHECKING:
    from fhir_client.embedded.store import EmbeddedStore

Row = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Include:
    """One ``_include`` (forward) or ``_revinclude`` (reverse) request.

    ``source_type`` holds the reference, ``param`` is the reference parameter (or the
    every-reference index for ``*``), ``target_type`` optionally narrows what it points at.
    A wildcard has no source type: any type's references count. ``iterate`` applies it
    to included resources too, not only to the matches.
    """

    reverse: bool
    source_type: str | None
    param: str
    target_type: str | None = None
    iterate: bool = False

    def applies_to(self, resource_type: str) -> bool:
        """Whether this include starts from resources of ``resource_type``."""
        if self.reverse:
            return self.target_type in (None, resource_type)
        return self.source_type in (None, resource_type)


def parse_include(
    name: str, modifier: str, raw: str, searched_type: str, count_so_far: int
) -> Include:
    """Parse one ``_include``/``_revinclude`` value; SearchError says what to send instead."""
    reverse = name == "_revinclude"
    if modifier not in ("", "iterate", "recurse", "recursive"):
        raise SearchError(f"{name}:{modifier} is not supported; use {name} or {name}:iterate")
    iterate = bool(modifier)
    if count_so_far >= MAX_INCLUDE_PARAMS:
        raise SearchError(
            f"At most {MAX_INCLUDE_PARAMS} _include/_revinclude values per search; split the search"
        )
    if raw == "*":
        return Include(reverse, None, ALL_REFERENCES, iterate=iterate)
    parts = raw.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise SearchError(f"{name}={raw!r} is not of the form Type:param, Type:param:Target or *")
    source, param = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    for rtype in (source, target):
        if rtype is not None and rtype not in REGISTRY:
            raise SearchError(f"{name}={raw!r} names {rtype!r}, a type this store does not hold")
    if not reverse and not iterate and source != searched_type:
        raise SearchError(
            f"_include={raw} starts from {source} but this search returns {searched_type}; "
            f"use _include={searched_type}:<param>, or _include:iterate to start from "
            "included resources"
        )
    if param == "*":
        return Include(reverse, source, ALL_REFERENCES, target, iterate)
    spec = REGISTRY[source].get(param)
    if spec is None or spec.kind is not ParamKind.REFERENCE:
        references = sorted(
            p.name for p in REGISTRY[source].values() if p.kind is ParamKind.REFERENCE
        )
        raise SearchError(
            f"{name}={raw}: {param!r} is not a reference parameter of {source}; "
            f"its reference parameters: {', '.join(references) or 'none'}"
        )
    return Include(reverse, source, param, target, iterate)


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _condition(include: Include, from_type: str, ids: Sequence[str]) -> tuple[str, list[object]]:
    """SQL on ``resource r`` selecting what ``include`` adds for resources of one type."""
    if include.reverse:
        sources = [include.source_type] if include.source_type else sorted(REGISTRY)
        args: list[object] = [*sources, include.param]
        sql = (
            f"r.rid IN (SELECT f.rid FROM idx_ref f WHERE f.res_type IN ({_marks(sources)}) "
            f"AND f.param = ? AND f.target_id IN ({_marks(ids)}) AND f.target_type = ?)"
        )
        args.extend([*ids, from_type])
        return sql, args
    # Driven from the page's own rows (CROSS JOIN fixes SQLite's join order): starting
    # from the reference index instead scanned every reference of the type, ~10x slower.
    sql = (
        "r.rid IN (SELECT t.rid FROM resource m CROSS JOIN idx_ref f ON f.rid = m.rid "
        "CROSS JOIN resource t ON t.res_type = f.target_type AND t.res_id = f.target_id "
        f"WHERE m.res_type = ? AND m.res_id IN ({_marks(ids)}) AND f.param = ?"
    )
    args = [from_type, *ids, include.param]
    if include.target_type is not None:
        sql += " AND f.target_type = ?"
        args.append(include.target_type)
    return sql + ")", args


def included_rows(
    store: EmbeddedStore, matched_type: str, matches: Sequence[Row], includes: Sequence[Include]
) -> tuple[list[Row], bool]:
    """The resources ``includes`` add to a page of ``matches``, and whether a bound cut them.

    Plain includes start from the matches; ``:iterate`` ones from everything on the page,
    again after each round that added something. A resource already on the page (as a
    match or an earlier include) is not repeated.
    """
    if not includes or not matches:
        return [], False
    seen = {(rtype, rid) for rtype, rid, _ in matches}
    added: list[Row] = []
    sources: list[Row] = list(matches)
    iterating = [include for include in includes if include.iterate]
    for round_number in range(MAX_INCLUDE_ROUNDS + 1):
        active = includes if round_number == 0 else iterating
        found: list[Row] = []
        for include in active:  # round 0: sources are the matches
            for rtype, ids in _ids_by_type(sources).items():
                if not include.applies_to(rtype) or (not include.iterate and rtype != matched_type):
                    continue
                room = MAX_INCLUDED_PER_PAGE - len(added) - len(found)
                condition, args = _condition(include, rtype, ids)
                for row in store.rows_matching(condition, args, room + len(seen) + 1):
                    if (row[0], row[1]) in seen:
                        continue
                    if len(added) + len(found) == MAX_INCLUDED_PER_PAGE:
                        return [*added, *found], True
                    seen.add((row[0], row[1]))
                    found.append(row)
        if round_number == MAX_INCLUDE_ROUNDS:
            return added, bool(found)  # a round past the bound would still have added these
        added.extend(found)
        sources = found
        if not found or not iterating:
            return added, False
    return added, False


def _ids_by_type(rows: Sequence[Row]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for rtype, rid, _ in rows:
        grouped.setdefault(rtype, []).append(rid)
    return grouped


def truncation_outcome() -> dict[str, object]:
    """The OperationOutcome a page carries when its includes hit the bound."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "warning",
                "code": "too-costly",
                "diagnostics": (
                    f"_include/_revinclude stopped at {MAX_INCLUDED_PER_PAGE} resources or "
                    f"{MAX_INCLUDE_ROUNDS} rounds of :iterate on this page and left out the "
                    "rest; ask for a smaller _count or fewer includes"
                ),
            }
        ],
    }
