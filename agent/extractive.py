"""The extractive answer: sentences composed from evidence lines, no model involved.

Used for ``--model none``, and as the fallback when a model's answer fails verification
twice.  Every sentence that states a fact copies it from an evidence line and cites that
line, so the extractive answer passes the same verification as a model's.  It says when
nothing was found, and never turns a failed search into "none recorded".
"""

from __future__ import annotations

import re

from agent.extractive_course import course_sentences, diagnosis_lines, judgement_note
from agent.extractive_evidence import (
    Cite,
    citation,
    in_period,
    period_words,
    retrieved,
    step_spec,
)
from agent.extractive_kinds import (
    DUE_NOTE,
    compose_by_kind,
    is_latest_few,
    latest_of_each,
    latest_sentences,
)
from agent.extractive_visit import visit_results
from agent.reading import Reading
from agent.reading.decline import stored_reading
from agent.reading.interactions import INTERACTION_NOTE
from agent.results import result_from_json, thread_aliases
from agent.state import AgentState, StepRecord
from tools.evidence import EvidenceSeries, ToolResult
from tools.vocabulary import normalize_name

__all__ = [
    "FALLBACK_NOTE",
    "MAX_COUNT_CITATIONS",
    "NO_SUPPORTED_ANSWER",
    "count_sentence",
    "extractive_answer",
]

FALLBACK_NOTE = (
    "Note: the model's answer could not be verified against the record, so this answer "
    "was composed directly from the retrieved evidence."
)
NO_SUPPORTED_ANSWER = (
    "I could not write an answer that the retrieved evidence supports, so none is given; "
    "the notes say what was looked up and which statement failed the check."
)
"""Said when verification removed every sentence: an answer is never empty."""

# Citations one count sentence carries at most; a larger count says how many it cites.
MAX_COUNT_CITATIONS = 60


def _qualifier(step: StepRecord) -> str:
    arguments = step["arguments"]
    status = arguments.get("status")
    name = arguments.get("name") or arguments.get("vaccine") or arguments.get("encounter_type")
    surgical = "surgical" if arguments.get("kind") == "surgical" else None  # procedures' kind
    words = [w for w in (status if status not in (None, "all") else None, surgical, name) if w]
    return " ".join(str(w) for w in words)


def _observation(step: StepRecord, result: ToolResult, cite: Cite) -> list[str]:
    mode = step["arguments"].get("mode", "latest")
    before = "Before that, the" if step["arguments"].get("until") else "The"
    which = {"latest": "most recent", "first": "first"}.get(mode, "")
    sentences: list[str] = []
    for item in result.items:
        if isinstance(item, EvidenceSeries):
            sentences.append(f"{item.render(cite)}.")
        elif mode in ("latest", "first") and item.value and item.date:
            stated = f"{item.label} was {item.value} on {item.date}"
            sentences.append(f"{before} {which} {stated} {citation(item, cite)}.")
        else:
            sentences.append(f"{item.text} {citation(item, cite)}.")
    return sentences


def _dated_event(step: StepRecord, result: ToolResult, cite: Cite, reading: Reading) -> list[str]:
    """Immunizations and encounters: the newest one for 'when was the last ...'."""
    items = sorted(result.evidence, key=lambda e: e.date or "", reverse=True)
    latest_asked = (
        step["arguments"].get("limit") == 1
        or ("until" in step["arguments"] and reading.period is None)
        or (reading.ordinal == "latest" and reading.asks not in ("list", "count"))
    )
    if latest_asked and items and items[0].date:
        first = items[0]
        before = "Before that, the" if step["arguments"].get("until") else "The"
        noun = step_spec(step).phrasing.newest or "record"
        return [
            f"{before} most recent {noun}{_for(step)} was on {first.date}: "
            f"{first.undated_text} {citation(first, cite)}."
        ]
    return _listing(step, result, cite)


def _for(step: StepRecord) -> str:
    qualifier = _qualifier(step)
    return f" ({qualifier})" if qualifier else ""


def _what(step: StepRecord) -> str:
    return step_spec(step).listed


def _listing(step: StepRecord, result: ToolResult, cite: Cite) -> list[str]:
    what = _what(step)
    qualifier = _qualifier(step)
    heading = f"{qualifier.capitalize()} {what}" if qualifier else what.capitalize()
    lines = [f"{heading} in the record:"]
    lines += [f"- {item.render(cite)}" for item in result.items]
    if result.truncated:
        lines.append("Only the most recent ones are shown; the record holds more.")
    return lines


def _report(result: ToolResult, cite: Cite) -> list[str]:
    """A reporting tool's notes (what it looked at, what the record does not say), then
    its items: "2 of the 40 laboratory results are flagged ...", "- ... [3]"."""
    lines = [*result.notes, *(f"- {item.render(cite)}" for item in result.items)]
    if result.truncated:
        lines.append(f"Only the most recent {len(result.items)} of them are shown.")
    return lines


def _first_orders(result: ToolResult, cite: Cite) -> list[str]:
    """ "lisinopril 10 MG Oral Tablet was first prescribed on 2019-03-02 [...]"."""
    return [
        f"{item.label or item.undated_text} was first prescribed on {item.date} "
        f"{citation(item, cite)}."
        if item.date
        else f"{item.text} {citation(item, cite)}."
        for item in result.evidence
    ]


def count_sentence(step: StepRecord, result: ToolResult, cite: Cite, reading: Reading) -> str:
    """The direct answer to "how many ...": the count first, citing what was counted.

    The count is the tool's total when it reported one (the server's count of the
    window), else the number of records returned; when more were counted than can be
    cited, the sentence says how many it cites.
    """
    one, many = step_spec(step).count_nouns or ("record", "records")
    qualifier = _qualifier(step)
    if qualifier:
        one, many = f"{qualifier} {one}", f"{qualifier} {many}"
    shown = result.evidence
    total = result.total_available if result.total_available is not None else len(shown)
    total = max(total, len(shown))
    when = period_words(reading)
    cited = shown[:MAX_COUNT_CITATIONS]
    refs = "".join(citation(item, cite) for item in cited)
    partial = f" ({len(cited)} of them cited)" if len(cited) < total else ""
    if total == 0:  # a zero cites nothing: said as an absence, which the verifier checks
        return f"The patient had 0 {many}{when}: none was found."
    noun = one if total == 1 else many
    return f"The patient had {total} {noun}{when}{partial} {refs}".rstrip() + "."


def _empty(step: StepRecord, result: ToolResult) -> str:
    """No match, said about what was searched (the tool's own note names it)."""
    if result.notes:
        return result.notes[0]
    if step_spec(step).kind == "observation":
        name = step["arguments"].get("name", "such")
        return f"No {name} result was found among this patient's observations."
    what = _what(step)
    qualifier = _qualifier(step)
    return f"No {qualifier + ' ' if qualifier else ''}{what} match in this record."


def _windowed(result: ToolResult, reading: Reading) -> ToolResult:
    """A result cut to the reading's period, for tools that take no window themselves."""
    period = reading.period
    if period is None:
        return result
    kept = tuple(e for e in result.evidence if in_period(e, reading))
    return ToolResult(
        tool=result.tool,
        summary=result.summary,
        items=kept,
        truncated=False,
        total_available=len(kept),
        notes=result.notes,
    )


def _restricted(step: StepRecord) -> bool:
    """A search restricted by a rule its notes state (``procedures(kind="surgical")``)."""
    return step["arguments"].get("kind") == "surgical"


def _restrictions(steps: list[StepRecord]) -> list[str]:
    """How a restricted search chose its items ("2 of the 40 procedures recorded look
    surgical by their names ..."), said before an answer composed from them."""
    return [
        note
        for step in steps
        if step["node"] == "act" and _restricted(step) and step.get("result")
        for note in result_from_json(step["result"]).notes  # type: ignore[arg-type]
    ]


def _step_sentences(step: StepRecord, cite: Cite, reading: Reading) -> list[str]:
    tool = step["tool"] or ""
    if step.get("error"):
        return [
            f"The {tool.replace('_', ' ')} could not be retrieved ({step['error']}); "
            "this part of the record is missing from the answer, which does not mean "
            "there is none."
        ]
    if step.get("result") is None:
        return []
    result = result_from_json(step["result"])  # type: ignore[arg-type]
    spec = step_spec(step)
    if "since" not in step["arguments"] and spec.kind == "list":
        result = _windowed(result, reading)  # a list the planner asked for whole
    if spec.phrasing.reports:
        return _report(result, cite)
    restricted = _restricted(step)
    if restricted and not result.items:
        return [_empty(step, result)]  # what was searched and found, never "0 surgeries"
    rule = list(result.notes) if restricted else []  # how the items were chosen, first
    if reading.asks == "count" and spec.count_nouns is not None:
        listing = _listing(step, result, cite)[1:] if result.items else []
        return [count_sentence(step, result, cite, reading), *rule, *listing]
    if not result.items:
        return [_empty(step, result)]
    return [*rule, *_listed(step, result, cite, reading)]


def _listed(step: StepRecord, result: ToolResult, cite: Cite, reading: Reading) -> list[str]:
    """A result with items, by its tool's kind and what the question asks."""
    spec = step_spec(step)
    if spec.kind == "list" and step["arguments"].get("mode") == "first":
        return _first_orders(result, cite)  # medications' first order of each drug
    if spec.kind == "observation" and reading.asks == "trend":
        return course_sentences(result, reading, cite)  # "how's his A1c been"
    if is_latest_few(step) and reading.follow_up != "before":
        return latest_sentences(result, reading, cite)
    if spec.kind == "observation":
        return _observation(step, result, cite)
    if spec.phrasing.newest is not None:
        return _dated_event(step, result, cite, reading)
    return _listing(step, result, cite)


def _judged(steps: list[StepRecord], reading: Reading, cite: Cite) -> list[str]:
    """A judgement question's answer: what the record does not say, then the diagnosis
    as recorded and the results followed for it; a lookup that found no diagnosis says
    what it searched (or what it found instead), in its own words, and a subject the
    record does not hold ("is his asthma under control?" without asthma) is answered by
    that absence alone, not by a note on judging it."""
    unknown = ("none_found", "not_understood")
    absent = bool(reading.concepts) and reading.concepts[0].found in unknown
    lines = [] if absent else [judgement_note(reading)]  # "No asthma among ..." says it
    diagnoses = diagnosis_lines(retrieved(steps), reading, cite)
    lines += diagnoses
    for step in steps:
        if step["node"] != "act":
            continue
        if step_spec(step).kind == "observation" or not diagnoses:
            lines.extend(_step_sentences(step, cite, reading))
    return lines


def _reuse(state: AgentState, cite: Cite) -> list[str]:
    """A follow-up about earlier results ("which of those is severe?"): filter them."""
    previous = state.get("turns", [])[-1:] or []
    references = previous[0]["references"] if previous else []
    evidence = state.get("evidence", {})
    records = [evidence[r] for r in references if r in evidence]
    if not records:
        return ["There are no earlier results in this conversation to refer to."]
    words = [
        w
        for w in normalize_name(state.get("question", "")).split()
        if len(w) > 3 and w not in _FILLER
    ]
    matching = [
        r for r in records if any(re.search(rf"\b{w}", normalize_name(r["text"])) for w in words)
    ]
    if not matching:
        shown = ", ".join(f"'{w}'" for w in words) or "your question"
        return [f"None of the results retrieved earlier mention {shown}."]
    lines = ["From the results retrieved earlier:"]
    lines += [f"- {r['text']} [{cite(r['reference'])}]" for r in matching]
    return lines


_FILLER = {
    "which",
    "those",
    "these",
    "them",
    "what",
    "were",
    "does",
    "that",
    "there",
    "with",
    "allergies",
    "allergy",
    "medications",
    "medication",
    "conditions",
    "problems",
    "vaccines",
    "results",
    "visits",
    "encounters",
    "have",
    "patient",
}


def extractive_answer(state: AgentState, *, cite: Cite | None = None) -> str:
    """The answer composed from this turn's results (aliases as citations by default)."""
    if cite is None:
        cite = thread_aliases(state.get("aliases", [])).cite
    turn = state["current"]
    if turn["route"] == "reuse":
        return "\n".join(_reuse(state, cite))
    if turn["route"] == "decline":
        return turn["declined"]
    question = state.get("question", "")
    reading = stored_reading(turn)
    steps = turn["steps"]
    sentences: list[str] = []
    unknown = [c.phrase for c in reading.concepts if c.found == "not_understood"]
    if unknown and reading.asks != "yes_no":
        sentences.append(
            f"I could not match '{unknown[0]}' to anything this record codes, so I cannot "
            "say whether the record holds it; what the notes say follows if they mention it."
        )
    if reading.due:  # a schedule question: what was last done, never "Yes" or "No"
        sentences.append(DUE_NOTE)
        latest = latest_of_each(retrieved(steps), reading, cite)
        if latest:
            return "\n".join([*sentences, *latest])
        reading = reading.model_copy(update={"asks": "value"})  # say what was searched
    if reading.interaction:  # "any drug interactions?": the orders, never "Yes" or "No"
        sentences.append(INTERACTION_NOTE)
    if reading.judged:  # "is his diabetes controlled?": never "Yes" or "No"
        return "\n".join([*sentences, *_judged(steps, reading, cite)])
    visit = visit_results(steps, reading, cite) if reading.visit_results else None
    if visit is not None:  # "labs at his last visit": that visit's, not each newest
        return "\n".join([*sentences, *visit])
    by_kind = compose_by_kind(steps, reading, cite, question)
    if by_kind is not None:
        return "\n".join([*sentences, *_restrictions(steps), *by_kind])
    for step in steps:
        if step["node"] == "act":
            sentences.extend(_step_sentences(step, cite, reading))
    if not sentences:
        return "No relevant data was retrieved for this question."
    return "\n".join(sentences)
