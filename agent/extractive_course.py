"""Extractive answers to a course over time and to a judgement question.

A course ("how's his cholesterol been", "A1c since 2019") lists each result's dated
values, oldest first, each cited, and says how many there are and, when the tool was
capped, how many the record holds.  A judgement ("is his diabetes controlled?") is never
answered "Yes" or "No": the record states no such judgement, so the answer says so and
shows what a clinician would look at, the condition as the record states it and the
results followed for it (see :mod:`agent.reading.judgement`).  Apart from
:mod:`agent.extractive_kinds` because both read a whole series, not one value.
"""

from __future__ import annotations

from agent.extractive_evidence import Cite, Retrieved, citation, in_period, period_words
from agent.reading import Reading
from tools.evidence import Evidence, ToolResult

__all__ = ["course_sentences", "diagnosis_lines", "judgement_note"]


def judgement_note(reading: Reading) -> str:
    """Said first to a judgement question: what the record does not say, and why."""
    subject = reading.concepts[0].phrase if reading.concepts else "this"
    return (
        f"The record does not say how well {subject} is controlled: that is a clinical "
        "judgement, which ehr-agent does not make. What a clinician would look at follows."
    )


def _course_head(label: str, shown: int, result: ToolResult, reading: Reading, one: bool) -> str:
    """ "HbA1c, the 10 most recent of 23 results, oldest first:"; the counts are stated
    only where the verifier can check them (the tool's own count and total)."""
    when = period_words(reading)
    if not one:
        return f"{label} results{when}, oldest first:"
    if result.truncated and result.total_available:
        return (
            f"{label}, the {shown} most recent of {result.total_available} results{when}, "
            "oldest first:"
        )
    if result.truncated:
        more = "the record holds more"
        return f"{label}, the {shown} most recent results{when} ({more}), oldest first:"
    noun = "result" if shown == 1 else "results"
    return f"{label}, {shown} {noun}{when}, oldest first:"


def course_sentences(result: ToolResult, reading: Reading, cite: Cite) -> list[str]:
    """Each test's dated values, oldest first, one cited line each (see the module
    docstring)."""
    items = [e for e in result.evidence if in_period(e, reading)]
    if not items:
        return [result.notes[0] if result.notes else "No such result in this window."]
    labels = list(dict.fromkeys(e.label for e in items))
    one = len(labels) == 1 and len(items) == len(result.evidence)
    lines: list[str] = []
    for label in labels:
        points = sorted((e for e in items if e.label == label), key=lambda e: e.date or "")
        lines.append(_course_head(label or "Result", len(points), result, reading, one))
        lines += [f"- {e.date or 'undated'}: {e.value} {citation(e, cite)}" for e in points]
    return lines


def diagnosis_lines(found: list[Retrieved], reading: Reading, cite: Cite) -> list[str]:
    """The condition records the concept lookups found, one line each, newest first."""
    seen: dict[str, Evidence] = {}
    for retrieved in found:
        if retrieved.spec.kind == "observation":
            continue
        for item in retrieved.result.evidence:
            if item.kind == "Condition" and in_period(item, reading):
                seen.setdefault(item.reference, item)
    items = sorted(seen.values(), key=lambda e: e.date or "", reverse=True)
    if not items:
        return []
    return ["Diagnoses in the record:", *(f"- {e.text} {citation(e, cite)}" for e in items)]
