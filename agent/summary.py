"""The patient summary: a chart overview as a colleague would write it, every item cited.

Sections come straight from the tools (problems, social history, medications, allergies,
recent labs and vitals with their trend, recent encounters, immunizations), so every line
is an evidence line with its ``[ResourceType/id]``.  Social findings (employment,
education, housing, risk behaviour: Synthea records them as Conditions) get their own
short section instead of crowding the problem list; a result outside the record's
reference range is marked, and disagreeing same-day results are shown together.

The summary must fit a token budget (a model may read it, a dashboard may show it): each
section keeps its most recent lines first, and lines are dropped round-robin from the
longest section until the whole fits.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from agent.summary_flags import result_notes
from fhir_client.errors import FhirError
from tools import PatientToolset, ToolResult, run_tool
from tools.concepts import is_social_condition
from tools.declare import ToolName
from tools.evidence import Evidence, EvidenceSeries, Item

__all__ = ["SummaryItem", "SummaryOutput", "SummarySection", "patient_summary"]

_KEY_LABS = ("HbA1c", "LDL", "eGFR", "creatinine", "potassium", "hemoglobin")
_KEY_VITALS = ("blood pressure", "weight", "BMI")
_SOCIAL_TITLE = "Social history"
_MAX_SOCIAL = 6
_SECTIONS: tuple[tuple[str, ToolName, dict[str, Any]], ...] = (
    ("Problems", "conditions", {"status": "active", "limit": 200}),
    ("Medications", "medications", {"status": "active"}),
    ("Allergies", "allergies", {"status": "active"}),
    ("Recent encounters", "encounters", {"limit": 5}),
    ("Immunizations", "immunizations", {"limit": 8}),
)


class SummaryItem(BaseModel):
    text: str = Field(description="The line with inline [ResourceType/id] citations.")
    references: list[str]


class SummarySection(BaseModel):
    title: str
    items: list[SummaryItem]
    note: str | None = None


class SummaryOutput(BaseModel):
    patient_id: str
    patient: SummaryItem | None
    sections: list[SummarySection]
    text: str
    tokens: int
    truncated: bool
    seconds: float


def _trend(series: EvidenceSeries) -> str:
    """rising / falling / stable from the first and last numeric values (no new numbers)."""
    values = []
    for point in series.points:
        match = re.match(r"-?\d+(?:\.\d+)?", point.value)
        if match:
            values.append(float(match.group(0)))
    if len(values) < 2 or values[0] == 0:
        return ""
    change = (values[-1] - values[0]) / abs(values[0])
    word = "rising" if change > 0.05 else "falling" if change < -0.05 else "stable"
    return f" ({word})"


def _summary_item(item: Item) -> SummaryItem:
    trend = _trend(item) if isinstance(item, EvidenceSeries) else ""
    marks = result_notes(item) if item.kind == "Observation" else ""
    return SummaryItem(text=item.render() + trend + marks, references=list(item.references))


def _items(result: ToolResult) -> list[SummaryItem]:
    return [_summary_item(item) for item in result.items]


def _split_social(outcome: Any) -> tuple[Any, list[SummaryItem]]:
    """Problems without the social findings, and the findings (one line per finding)."""
    if isinstance(outcome, Exception):
        return outcome, []
    problems: list[Item] = []
    social: dict[str, Evidence] = {}
    for item in outcome.items:
        if isinstance(item, Evidence) and is_social_condition(item.resource):
            social.setdefault(item.label or item.text, item)
        else:
            problems.append(item)
    kept = ToolResult(
        tool=outcome.tool,
        summary=outcome.summary,
        items=tuple(problems),
        truncated=outcome.truncated,
        total_available=None,
        notes=outcome.notes,
    )
    newest = sorted(social.values(), key=lambda e: e.date or "", reverse=True)
    return kept, [_summary_item(e) for e in newest]


async def _run(toolset: PatientToolset, tool: str, arguments: dict[str, Any]) -> Any:
    try:
        return await run_tool(toolset, tool, arguments)
    except (FhirError, ValueError) as error:
        return error


def _section(title: str, outcome: Any, empty: str) -> SummarySection:
    if isinstance(outcome, Exception):
        return SummarySection(title=title, items=[], note=f"Could not be retrieved: {outcome}")
    items = _items(outcome)
    note = empty if not items else ("More exist in the record." if outcome.truncated else None)
    return SummarySection(title=title, items=items, note=note)


def _render(patient: SummaryItem | None, sections: list[SummarySection]) -> str:
    lines = [patient.text] if patient else []
    for section in sections:
        lines.append(f"\n{section.title}:")
        lines.extend(f"- {item.text}" for item in section.items)
        if section.note:
            lines.append(f"  ({section.note})")
    return "\n".join(lines).strip()


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


async def patient_summary(
    toolset: PatientToolset,
    *,
    max_tokens: int = 2048,
    count_tokens: Callable[[str], int] = _approx_tokens,
) -> SummaryOutput:
    """Build the summary with every tool call running concurrently."""
    started = time.perf_counter()
    labs: list[tuple[ToolName, dict[str, Any]]] = [
        ("lab_results", {"name": n, "mode": "series", "limit": 5}) for n in _KEY_LABS
    ]
    vitals: list[tuple[ToolName, dict[str, Any]]] = [
        ("vital_signs", {"name": n, "mode": "series", "limit": 5}) for n in _KEY_VITALS
    ]
    calls: list[tuple[ToolName, dict[str, Any]]] = [
        ("patient_overview", {}),
        *((tool, args) for _, tool, args in _SECTIONS),
        *labs,
        *vitals,
    ]
    outcomes = await asyncio.gather(*(_run(toolset, tool, args) for tool, args in calls))
    overview, rest = outcomes[0], outcomes[1:]
    patient = None if isinstance(overview, Exception) else next(iter(_items(overview)), None)
    problems, social = _split_social(rest[0])
    rest = [problems, *rest[1:]]
    sections = [
        _section(title, outcome, f"No {title.lower()} are recorded in the retrieved data.")
        for (title, _, _), outcome in zip(_SECTIONS, rest, strict=False)
    ]
    shown_social = social[:_MAX_SOCIAL]
    more = len(social) - len(shown_social)
    sections.insert(
        1,
        SummarySection(
            title=_SOCIAL_TITLE,
            items=shown_social,
            note=f"{more} more social findings in the record." if more else None,
        ),
    )
    lab_items = [i for o in rest[len(_SECTIONS) : len(_SECTIONS) + len(labs)] for i in _items_of(o)]
    vital_items = [i for o in rest[len(_SECTIONS) + len(labs) :] for i in _items_of(o)]
    sections.insert(
        4,
        SummarySection(
            title="Recent labs",
            items=lab_items,
            note=None if lab_items else "No key lab results found.",
        ),
    )
    sections.insert(
        5,
        SummarySection(
            title="Recent vitals",
            items=vital_items,
            note=None if vital_items else "No vital signs found.",
        ),
    )
    truncated = False
    text = _render(patient, sections)
    while count_tokens(text) > max_tokens:
        longest = max(sections, key=lambda s: len(s.items))
        if not longest.items:
            break
        longest.items.pop()
        longest.note = "Trimmed to fit; more exist in the record."
        truncated = True
        text = _render(patient, sections)
    return SummaryOutput(
        patient_id=toolset.patient_id,
        patient=patient,
        sections=sections,
        text=text,
        tokens=count_tokens(text),
        truncated=truncated,
        seconds=round(time.perf_counter() - started, 4),
    )


def _items_of(outcome: Any) -> list[SummaryItem]:
    return [] if isinstance(outcome, Exception) else _items(outcome)
