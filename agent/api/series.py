"""Chartable lab and vital series behind an answer, read back from the record.

The output contract carries evidence as text lines (what the model read), which is the
wrong thing to plot: parsing numbers back out of prose would be brittle.  So the API
re-reads the answer's Observation evidence from FHIR (one ``_id`` search per 50
resources, restricted to the patient) and groups numeric values by code.  Blood pressure
and other panels become one series per component.  A series is kept only when it has at
least two points and the answer cites at least one of them, so a chart appears for
"the HbA1c trend" and not for every lab that happened to be fetched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from agent.api.schemas import ChartPoint, ChartSeries
from agent.output import AgentOutput
from fhir_client.client import FhirClient

__all__ = ["answer_series", "series_from_observations"]

_IDS_PER_SEARCH = 50
_MAX_OBSERVATIONS = 200


@dataclass(frozen=True)
class _Value:
    code: str
    name: str
    unit: str
    value: float


def _concept(concept: Any) -> tuple[str, str] | None:
    """(system|code, display name) of a CodeableConcept, or None without a coding."""
    if not isinstance(concept, dict):
        return None
    codings = [c for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code")]
    if not codings:
        return None
    first = codings[0]
    name = concept.get("text") or first.get("display") or first["code"]
    return f"{first.get('system', '')}|{first['code']}", str(name)


def _quantity(element: dict[str, Any]) -> tuple[float, str] | None:
    quantity = element.get("valueQuantity")
    if not isinstance(quantity, dict) or not isinstance(quantity.get("value"), int | float):
        return None
    return float(quantity["value"]), str(quantity.get("unit") or quantity.get("code") or "")


def _values(observation: dict[str, Any]) -> Iterator[_Value]:
    """The numeric values of one Observation: its own, else each component's."""
    own = _quantity(observation)
    concept = _concept(observation.get("code"))
    if own is not None and concept is not None:
        yield _Value(concept[0], concept[1], own[1], own[0])
        return
    for component in observation.get("component") or []:
        if not isinstance(component, dict):
            continue
        value, part = _quantity(component), _concept(component.get("code"))
        if value is not None and part is not None:
            yield _Value(part[0], part[1], value[1], value[0])


def _date(observation: dict[str, Any]) -> str | None:
    period = observation.get("effectivePeriod")
    start = period.get("start") if isinstance(period, dict) else None
    found = observation.get("effectiveDateTime") or start or observation.get("issued")
    return str(found) if found else None


def series_from_observations(
    observations: Iterable[dict[str, Any]], cited: set[str], *, min_points: int = 2
) -> list[ChartSeries]:
    """Group numeric values by code; keep series with enough points and a cited one."""
    groups: dict[str, ChartSeries] = {}
    for observation in observations:
        date = _date(observation)
        if date is None:
            continue
        reference = f"Observation/{observation.get('id')}"
        for value in _values(observation):
            series = groups.setdefault(
                value.code,
                ChartSeries(name=value.name, code=value.code, unit=value.unit, points=[]),
            )
            series.points.append(
                ChartPoint(
                    date=date, value=value.value, reference=reference, cited=reference in cited
                )
            )
    kept = []
    for series in groups.values():
        series.points.sort(key=lambda point: point.date)
        if len(series.points) >= min_points and any(p.cited for p in series.points):
            kept.append(series)
    return kept


async def answer_series(client: FhirClient, output: AgentOutput) -> list[ChartSeries]:
    """The chartable series among the answer's Observation evidence (see module doc)."""
    ids = [
        e.reference.split("/", 1)[1]
        for e in output.evidence
        if e.reference.startswith("Observation/")
    ][:_MAX_OBSERVATIONS]
    if not ids:
        return []
    observations: list[dict[str, Any]] = []
    for start in range(0, len(ids), _IDS_PER_SEARCH):
        chunk = ids[start : start + _IDS_PER_SEARCH]
        params = {"_id": ",".join(chunk), "patient": output.patient_id, "_count": str(len(chunk))}
        observations.extend(await client.search("Observation", params, max_pages=1))
    cited = {c.reference for c in output.citations if c.verified}
    return series_from_observations(observations, cited)
