"""Labs and vital signs: find an observation by a clinician's name, latest/first/series.

"Latest" and "first" must reach the whole history without fetching it, so a known name
becomes a code search sorted by date with a tiny page (``_sort=-date``, one result): one
request whatever the record's size.  A name the vocabulary does not know (or a code search
that finds nothing, as with the HIV set's local codes) falls back to scanning the patient's
observations, newest first and bounded, matching ``code.text`` / ``coding.display``.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from tools.declare import ToolName
from tools.evidence import Item, ToolResult, collapse_series
from tools.formatting import format_resource
from tools.matching import concept_matches, date_params
from tools.scope import PatientScope
from tools.vocabulary import LOINC, ObservationConcept, find_observation_concept

__all__ = ["Mode", "find_observations"]

Mode = Literal["latest", "first", "series", "highest", "lowest"]
_MODES = ("latest", "first", "series", "highest", "lowest")
_SYSTOLIC = "8480-6"
# A LOINC code: digits, a hyphen, one check digit ("75626-2").
_LOINC_CODE = re.compile(r"\d{1,7}-\d")


def _concept_for(name: str) -> ObservationConcept | None:
    """The vocabulary's concept for ``name``, or, for a LOINC code no table lists (a
    questionnaire's own score, "Total score [HARK]"), a concept of that code alone, so it
    is searched by code like any known test."""
    concept = find_observation_concept(name)
    if concept is None and _LOINC_CODE.fullmatch(name.strip()):
        code = name.strip()
        return ObservationConcept(label=code, codes=(code,), names=(code,))
    return concept


def numeric_value(resource: dict[str, Any]) -> float | None:
    """The number an extreme or a threshold compares: ``valueQuantity.value``, or for a
    blood pressure panel its systolic component (the "highest BP" a clinician means)."""
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict):
        value = quantity.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    for component in resource.get("component") or []:
        if not isinstance(component, dict):
            continue
        codes = {
            c.get("code")
            for c in (component.get("code") or {}).get("coding") or []
            if isinstance(c, dict)
        }
        quantity = component.get("valueQuantity")
        if _SYSTOLIC in codes and isinstance(quantity, dict):
            value = quantity.get("value")
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    return None


def _code_param(concept: ObservationConcept) -> str:
    return ",".join(f"{LOINC}|{code}" for code in concept.codes)


async def _coded(
    scope: PatientScope,
    concept: ObservationConcept,
    mode: Mode,
    window: dict[str, list[str]],
    limit: int,
) -> tuple[list[dict[str, Any]], bool]:
    params: dict[str, Any] = {"code": _code_param(concept), **window}
    params["_sort"] = "date" if mode == "first" else "-date"
    wanted = limit if mode in ("series", "highest", "lowest") else 1
    found = await scope.search("Observation", params, max_results=wanted)
    return found.resources, found.truncated


async def _by_text(
    scope: PatientScope,
    names: list[str],
    mode: Mode,
    window: dict[str, list[str]],
    limit: int,
    scan_limit: int,
) -> tuple[list[dict[str, Any]], bool]:
    params: dict[str, Any] = {**window, "_sort": "date" if mode == "first" else "-date"}
    found = await scope.search("Observation", params, max_results=scan_limit)
    matches = [
        r for r in found.resources if any(concept_matches(name, r.get("code")) for name in names)
    ]
    # A scan cut short by scan_limit only matters if it may have hidden matches.
    scan_cut = found.truncated and bool(matches)
    if mode in ("series", "highest", "lowest"):
        return matches[:limit], scan_cut or len(matches) > limit
    # latest/first of each distinct test that matched (e.g. "glucose" in blood and urine).
    per_test: dict[str, dict[str, Any]] = {}
    for resource in matches:
        label = format_resource(resource).label
        per_test.setdefault(label, resource)
    picked = list(per_test.values())[:limit]
    return picked, scan_cut or len(matches) > len(picked)


async def find_observations(
    scope: PatientScope,
    name: str,
    *,
    mode: Mode,
    since: str | None,
    until: str | None,
    limit: int,
    scan_limit: int,
    tool: ToolName,
    above: float | None = None,
    below: float | None = None,
) -> ToolResult:
    """Shared body of ``lab_results`` and ``vital_signs`` (see their docstrings)."""
    if mode not in _MODES:
        raise ValueError(f"mode={mode!r} is not one of {', '.join(_MODES)}")
    if not name.strip():
        raise ValueError("name is empty; give a test name such as 'HbA1c' or a LOINC code")
    if mode in ("highest", "lowest") or above is not None or below is not None:
        return await _compared(
            scope, name, mode, since, until, limit, scan_limit, tool, above, below
        )
    window = date_params(since, until)
    concept = _concept_for(name)
    resources: list[dict[str, Any]] = []
    truncated = False
    how = ""
    if concept is not None:
        resources, truncated = await _coded(scope, concept, mode, window, limit)
        how = f"{concept.label} (LOINC {', '.join(concept.codes)})"
    if not resources:
        names = [name] if concept is None else [name, *concept.names[:3]]
        resources, truncated = await _by_text(scope, names, mode, window, limit, scan_limit)
        how = f"'{name}' (matched by name)"
    evidence = [format_resource(r) for r in resources]
    items: list[Item]
    if mode == "series":
        evidence.sort(key=lambda e: e.date or "")
        items = collapse_series(evidence, min_points=2)
    else:
        items = list(evidence)
    total = None
    if truncated and concept is not None and mode == "series":
        total = await scope.count("Observation", {"code": _code_param(concept), **window})
    window_text = _window_text(since, until)
    summary = f"{tool}: {mode} {how}{window_text}: {len(evidence)} result(s)"
    notes: tuple[str, ...] = ()
    if not evidence:
        notes = (
            f"No result named '{name}' for this patient{window_text}. Try another name "
            "(e.g. 'A1c', 'LDL', 'eGFR', 'blood pressure') or a wider date window.",
        )
    truncated_flag = truncated and mode == "series"
    return ToolResult(
        tool=tool,
        summary=summary,
        items=tuple(items),
        truncated=truncated_flag,
        total_available=total,
        notes=notes,
    )


def _window_text(since: str | None, until: str | None) -> str:
    if since and until:
        return f" from {since} to {until}"
    if since:
        return f" since {since}"
    if until:
        return f" until {until}"
    return ""


async def _compared(
    scope: PatientScope,
    name: str,
    mode: Mode,
    since: str | None,
    until: str | None,
    limit: int,
    scan_limit: int,
    tool: ToolName,
    above: float | None,
    below: float | None,
) -> ToolResult:
    """Extremes and thresholds: every result in the window is read (up to ``scan_limit``)
    and compared by ``numeric_value``; the header says how many were compared."""
    window = date_params(since, until)
    concept = _concept_for(name)
    resources: list[dict[str, Any]] = []
    truncated = False
    if concept is not None:
        resources, truncated = await _coded(scope, concept, "series", window, scan_limit)
    if not resources:
        names = [name] if concept is None else [name, *concept.names[:3]]
        resources, truncated = await _by_text(
            scope, names, "series", window, scan_limit, scan_limit
        )
    valued = [(numeric_value(r), r) for r in resources]
    numbers = [(v, r) for v, r in valued if v is not None]
    kept = [
        (v, r) for v, r in numbers if (above is None or v > above) and (below is None or v < below)
    ]
    bound = " and ".join(
        t
        for t in (
            f"above {above:g}" if above is not None else "",
            f"below {below:g}" if below is not None else "",
        )
        if t
    )
    label = concept.label if concept is not None else f"'{name}'"
    window_text = _window_text(since, until)
    compared = f"{len(numbers)} numeric result(s){window_text}"
    if truncated:
        compared += f" (the newest {scan_limit}; older ones were not read)"
    if mode in ("highest", "lowest"):
        pick = (max if mode == "highest" else min)(kept, key=lambda p: p[0], default=None)
        chosen = [pick[1]] if pick is not None else []
        by = " (systolic)" if concept is not None and concept.label == "BP" else ""
        summary = f"{tool}: {mode}{by} {label}{' ' + bound if bound else ''} of {compared}"
        items: list[Item] = [format_resource(r) for r in chosen]
        total = len(kept)
    else:
        chosen = [r for _, r in kept][:limit]
        evidence = sorted((format_resource(r) for r in chosen), key=lambda e: e.date or "")
        items = collapse_series(evidence, min_points=2)
        summary = f"{tool}: {len(kept)} {label} result(s) {bound} of {compared}"
        total = len(kept)
    notes: tuple[str, ...] = ()
    if not kept:
        notes = (f"No {label} result{' ' + bound if bound else ''} among {compared}.",)
    return ToolResult(
        tool=tool,
        summary=f"{summary}: {len(chosen)} shown",
        items=tuple(items),
        truncated=mode not in ("highest", "lowest") and len(kept) > len(chosen),
        total_available=total,
        notes=notes,
    )
