"""Which retrieved evidence an extractive answer may use: the turn's successful tool
steps, the lines inside the question's period, the numeric observations, and the lines
about the question's concepts.

Why a module of its own: every composer (by kind in :mod:`agent.extractive_kinds`,
yes/no in :mod:`agent.extractive_yes_no`, per tool in :mod:`agent.extractive`) selects
evidence by the same rules (the period test was written twice before), and a rule
written twice can drift apart. Selection reads the turn's typed reading, never the
question's words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from agent.reading import Reading
from agent.results import result_from_json
from agent.state import StepRecord
from tools.evidence import Evidence, ToolResult
from tools.registry import ToolSpec, spec_of
from tools.vocabulary import normalize_name

__all__ = [
    "Cite",
    "Retrieved",
    "citation",
    "in_period",
    "number",
    "observations",
    "period_words",
    "relevant",
    "retrieved",
    "step_spec",
]

Cite = Callable[[str], str]
"""Maps a resource reference to the citation written for it (a thread alias or itself)."""
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_FAMILY_NAMES_TEXT = (
    "medication medications meds drug drugs condition conditions problem problems vis"
    "it visits encounter encounters vaccine vaccines history any"
)
_FAMILY_NAMES = frozenset(_FAMILY_NAMES_TEXT.split())


def step_spec(step: StepRecord) -> ToolSpec:
    """The step's tool spec (a tool of another toolset gets a bare one: listed by its name)."""
    tool = step["tool"] or ""
    return spec_of(tool) or ToolSpec(tool, "")


@dataclass(frozen=True)
class Retrieved:
    """One tool step's result, ready for composing."""

    step: StepRecord
    result: ToolResult

    @property
    def tool(self) -> str:
        return self.step["tool"] or ""

    @property
    def spec(self) -> ToolSpec:
        """The step's tool spec (see :func:`step_spec`)."""
        return step_spec(self.step)


def retrieved(steps: list[StepRecord]) -> list[Retrieved]:
    """The successful tool steps of the turn."""
    return [
        Retrieved(step, result_from_json(step["result"]))  # type: ignore[arg-type]
        for step in steps
        if step["node"] == "act" and step.get("result") is not None and not step.get("error")
    ]


def citation(item: Evidence, cite: Cite) -> str:
    """The citation of an evidence line's resource, in brackets."""
    return f"[{cite(item.reference)}]"


def number(item: Evidence) -> float | None:
    """The first number an evidence line's value states, if any."""
    match = _NUMBER.search(item.value)
    return float(match.group()) if match else None


def in_period(item: Evidence, reading: Reading) -> bool:
    """Whether a line falls in the question's period (an undated line never does,
    when a period is asked)."""
    period = reading.period
    if period is None:
        return True
    day = (item.date or "")[:10]
    if not day:
        return False
    return day >= period.since and (period.until is None or day <= period.until)


def period_words(reading: Reading) -> str:
    """The question's period as a sentence says it (" since 2020"), or nothing."""
    period = reading.period
    return f" {period.phrase}" if period and period.phrase else ""


def observations(found: list[Retrieved], reading: Reading) -> list[Evidence]:
    """The numeric observation lines in the period, oldest first."""
    items = [
        e
        for r in found
        if r.spec.kind == "observation"
        for e in r.result.evidence
        if number(e) is not None and in_period(e, reading)
    ]
    return sorted(items, key=lambda e: e.date or "")


def _words(text: str) -> list[str]:
    return [w for w in normalize_name(text).split() if len(w) > 2 and w not in _FAMILY_NAMES]


def _mentions(item: Evidence, reading: Reading) -> bool:
    """Whether a line of a whole-family list is about one of the question's concepts."""
    text = " " + normalize_name(item.text) + " "
    for concept in reading.concepts:
        if any(normalize_name(term) in text for term in concept.terms if term):
            return True
        words = _words(concept.phrase)
        if words and all(f" {w}" in text for w in words):
            return True
    return False


def relevant(found: list[Retrieved], reading: Reading) -> list[Evidence]:
    """The evidence about the question's concepts (all of it when it names none).

    Matches found for a concept, and results fetched by its name, count whole; a whole
    family's list ("every condition") counts only for its lines that mention the
    concept.  Note snippets never make a "yes": a note may mention what was ruled out.
    """
    items: list[Evidence] = []
    for r in found:
        if r.spec.kind == "text":
            continue
        # Only immunizations take a vaccine: doses fetched by its name count whole.
        direct = r.spec.kind in ("concept", "observation") or "vaccine" in r.step["arguments"]
        kept = r.result.evidence
        if reading.concepts and not direct:
            kept = [e for e in kept if _mentions(e, reading)]
        items += [e for e in kept if in_period(e, reading)]
    return items
