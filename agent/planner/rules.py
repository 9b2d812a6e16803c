"""The rule-based planner: a question's words mapped to tool calls.

It serves three purposes: the whole planner when there is no model (``--model none``),
the router that lets a recognised single-fact question skip the model's planning call
(so such a question costs one LLM call, the answer), and the fallback when a model's
plan is invalid twice.  It uses the tools' own vocabulary (``tools.vocabulary``) so a
lab or vaccine name the tools understand is recognised here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from agent.planner.periods import Period, find_period, is_count_question
from agent.state import ToolCall
from tools.vocabulary import (
    OBSERVATION_CONCEPTS,
    VACCINE_GROUPS,
    normalize_name,
)

__all__ = ["Mode", "RulePlan", "plan_question", "question_mode"]

Mode = Literal["latest", "first", "series"]
Intent = Literal["fact", "followup", "reuse", "unknown"]

_FIRST = ("first", "earliest", "initial", "oldest")
_SERIES = (
    "trend",
    "over time",
    "series",
    "history of",
    "all of",
    "values",
    "changed",
    "results",
    "readings",
    "progress",
    "every",
)
_COMPLEX = (
    "why",
    "should",
    "compare",
    "controlled",
    "explain",
    "recommend",
    "risk",
    "better",
    "worse",
    "improv",
    "summar",
    "overview of",
)
_BEFORE = (
    "before that",
    "before this",
    "prior to that",
    "earlier",
    "previous one",
    "the one before",
    "before then",
)
_REFERRING = ("those", "these", "them", "of it", "that one", "which one", "which of")
_CONDITIONS = (
    "diabetes",
    "hypertension",
    "ckd",
    "kidney",
    "asthma",
    "copd",
    "depression",
    "anxiety",
    "obesity",
    "hiv",
    "cancer",
    "prediabetes",
    "anemia",
    "heart failure",
    "hyperlipidemia",
    "stroke",
    "sinusitis",
    "bronchitis",
    "pregnancy",
)
_STOP_WORDS = (
    "a an the of to in on at for and or is was were are be been what when which who whom "
    "how does did do has have had her his their patient patients she he they it its any "
    "me show tell list give about with from last latest most recent first ever there this "
    "that these those my our your note notes mention mentioned documented say says said "
    "record records"
)
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class RulePlan:
    """The calls the rules chose and how sure they are.

    ``confident`` means a model need not plan (the question maps directly to the calls).
    """

    calls: list[ToolCall] = field(default_factory=list)
    intent: Intent = "unknown"
    confident: bool = False


def _call(tool: str, **arguments: Any) -> ToolCall:
    return {"tool": tool, "arguments": {k: v for k, v in arguments.items() if v is not None}}


def _has(text: str, *words: str) -> bool:
    """Whole-word (or word-prefix for stems ending in '*') match in normalised text."""
    for word in words:
        stem = word.rstrip("*")
        pattern = rf"\b{re.escape(stem)}" + ("" if word.endswith("*") else r"\b")
        if re.search(pattern, text):
            return True
    return False


def question_mode(text: str) -> Mode:
    """latest (default), first, or series, from the question's wording."""
    if _has(text, *_FIRST):
        return "first"
    if _has(text, "latest", "last", "most recent", "current", "newest"):
        return "latest"
    if any(phrase in text for phrase in _SERIES):
        return "series"
    return "latest"


def _observations(text: str, mode: Mode) -> list[ToolCall]:
    calls: list[ToolCall] = []
    seen: set[str] = set()
    # Longest names first so "systolic blood pressure" wins over "pressure".
    names = sorted(
        ((name, c) for c in OBSERVATION_CONCEPTS for name in (*c.names, c.label)),
        key=lambda pair: -len(pair[0]),
    )
    for name, concept in names:
        key = normalize_name(name)
        if concept.label in seen or len(key) < 2 or not _has(text, key):
            continue
        if key in ("pt", "k", "ca", "cl", "na", "mg", "cr", "ef", "ht", "wt", "hr", "rr", "tg"):
            continue  # two-letter names collide with ordinary words and units
        seen.add(concept.label)
        limit = 10 if mode == "series" else None
        if concept.kind == "vital":
            calls.append(_call("vital_signs", name=concept.names[0], mode=mode, limit=limit))
        else:
            calls.append(_call("lab_results", name=concept.names[0], mode=mode, limit=limit))
    return calls


def _vaccine(text: str, mode: Mode) -> ToolCall | None:
    mentions_vaccine = _has(text, "vaccin*", "immuniz*", "immunis*", "shot*", "jab*")
    for group in VACCINE_GROUPS:
        for name in (*group.names, group.label):
            key = normalize_name(name)
            if len(key) > 2 and _has(text, key) and (mentions_vaccine or len(key) > 4):
                recent = mode == "latest" and _has(text, "last", "latest", "recent", "when")
                return _call("immunizations", vaccine=group.names[0], limit=3 if recent else None)
    return _call("immunizations") if mentions_vaccine else None


def _topic_calls(text: str, mode: Mode) -> list[ToolCall]:
    calls = _observations(text, mode)
    vaccine = _vaccine(text, mode)
    if vaccine is not None:
        calls = [c for c in calls if c["tool"] != "lab_results"] + [vaccine]
    if _has(text, "medication*", "medicine*", "meds", "drug*", "prescri*", "taking", "pills"):
        status = "stopped" if _has(text, "stopped", "past", "previous", "discontinued") else None
        status = "all" if _has(text, "ever", "all", "history") else status
        calls.append(_call("medications", status=status or "active"))
    if _has(text, "allerg*", "intoleran*", "allergic"):
        calls.append(_call("allergies", status="active"))
    if _has(text, "encounter*", "visit*", "appointment*", "admission*", "admitted", "seen"):
        kind = next(
            (
                k
                for k in (
                    "emergency",
                    "inpatient",
                    "wellness",
                    "ambulatory",
                    "urgent",
                    "outpatient",
                )
                if _has(text, k)
            ),
            None,
        )
        limit = 1 if mode == "latest" and _has(text, "last", "latest", "recent") else None
        calls.append(_call("encounters", encounter_type=kind, limit=limit))
    condition = next((c for c in _CONDITIONS if _has(text, c)), None)
    if _has(text, "condition*", "problem*", "diagnos*", "disease*", "illness*") or condition:
        resolved = _has(text, "resolved", "past", "history", "ever", "all")
        status = "all" if resolved or condition else "active"
        calls.append(_call("conditions", status=status, name=condition))
    if _has(text, "procedure*", "surger*", "operation*", "operated"):
        calls.append(_call("procedures"))
    if _has(text, "care plan*", "careplan*"):
        calls.append(_call("care_plans"))
    if _has(text, "goal*", "target*"):
        calls.append(_call("goals"))
    if _has(
        text,
        "age",
        "old",
        "born",
        "birth*",
        "gender",
        "sex",
        "name",
        "deceased",
        "alive",
        "demographic*",
        "who is",
    ):
        calls.append(_call("patient_overview"))
    if _has(text, "bill*", "claim*", "cost*", "insurance", "paid", "payer"):
        calls.append(_call("billing"))
    if _has(text, "note*", "documented", "mention*", "wrote", "written"):
        words = [w for w in text.split() if len(w) > 3 and w not in _STOP][:3]
        calls.append(_call("clinical_notes", keywords=words or None))
    return calls


def _day_before(day: str) -> str | None:
    try:
        return (date.fromisoformat(day[:10]) - timedelta(days=1)).isoformat()
    except ValueError:
        return None


_DATED_TOOLS = ("lab_results", "vital_signs", "immunizations", "encounters", "procedures")
_WINDOW_TOOLS = (*_DATED_TOOLS, "clinical_notes")
_LISTED_TOOLS = ("immunizations", "encounters", "procedures")
# Enough for every visit/procedure/dose of a window; the tool reports a larger total.
_WHOLE_WINDOW = 200
_MED_FIRST = (
    re.compile(
        r"\bwhen (?:was|were|did) (?:the patient|she|he|they) (?:first |initially )?"
        r"(?:started|start|begin|began)(?: taking| on| using)? (?P<name>.+?)\s*\??\s*$"
    ),
    re.compile(
        r"\bwhen (?:was|were) (?:the patient |she |he |they )?(?:first |initially )?"
        r"(?:started on |put on )?(?P<name>.+?) (?:first |initially )?"
        r"(?:prescribed|ordered|started)\b"
    ),
    re.compile(r"\bfirst (?:prescription|order) (?:of|for) (?P<name>.+?)\s*\??\s*$"),
)
_MAX_DRUG = 120


def _before(previous: list[ToolCall], earliest: dict[str, str]) -> list[ToolCall]:
    """Repeat the previous turn's dated calls, ending the day before what they found."""
    calls: list[ToolCall] = []
    for call in previous:
        found = earliest.get(call["tool"])
        until = _day_before(found) if found else None
        if call["tool"] not in _DATED_TOOLS or until is None:
            continue
        arguments = {k: v for k, v in call["arguments"].items() if k not in ("since", "until")}
        if call["tool"] in ("lab_results", "vital_signs"):
            arguments["mode"] = "latest"
        calls.append({"tool": call["tool"], "arguments": {**arguments, "until": until}})
    return calls


def _with_period(calls: list[ToolCall], period: Period | None, counting: bool) -> list[ToolCall]:
    """Put the question's period on the dated calls; a count fetches its whole window."""
    out: list[ToolCall] = []
    for call in calls:
        arguments = dict(call["arguments"])
        tool = call["tool"]
        if period is not None and tool in _WINDOW_TOOLS:
            arguments["since"] = period.since
            if period.until:
                arguments["until"] = period.until
        if tool in _LISTED_TOOLS and (counting or (period and "limit" not in arguments)):
            arguments["limit"] = _WHOLE_WINDOW
        if tool in ("lab_results", "vital_signs") and counting:
            arguments.update(mode="series", limit=50)
        out.append({"tool": tool, "arguments": arguments})
    return out


def _first_prescribed(question: str) -> ToolCall | None:
    """ "When was lisinopril 10 MG Oral Tablet first prescribed?": the drug's first order."""
    text = " ".join(question.strip().split())
    lowered = text.lower()
    if not any(word in lowered for word in ("prescri", "start", "began", "begin", "first")):
        return None
    for pattern in _MED_FIRST:
        match = pattern.search(lowered)
        if match is None:
            continue
        name = text[match.start("name") : match.end("name")].strip(" ?.")
        name = re.sub(r"^(?:the patient's|her|his|their|the)\s+", "", name, flags=re.I)
        if len(name) > _MAX_DRUG:
            name = name[:_MAX_DRUG].rsplit(" ", 1)[0]
        if name and not _has(normalize_name(name), "vaccin*", "immuniz*", "shot*"):
            return _call("medications", name=name, mode="first")
    return None


def plan_question(
    question: str,
    previous_calls: list[ToolCall] | None = None,
    earliest: dict[str, str] | None = None,
) -> RulePlan:
    """Tool calls for ``question``; ``previous_calls``/``earliest`` describe the last turn.

    ``earliest`` maps each tool of the last turn to the earliest date it found, which a
    "before that?" follow-up searches back from.
    """
    raw = question.lower()
    previous = previous_calls or []
    if previous and any(p in raw for p in _BEFORE):
        calls = _before(previous, earliest or {})
        if calls:
            return RulePlan(calls, "followup", confident=True)
    first_order = _first_prescribed(question)
    if first_order is not None:
        return RulePlan([first_order], "fact", confident=True)
    period = find_period(question)
    counting = is_count_question(question)
    # Read the rest without the period: "in the last 2 years" asks for no "latest".
    rest = raw[: period.span[0]] + " " + raw[period.span[1] :] if period else raw
    text = " " + normalize_name(rest) + " "
    mode = question_mode(text)
    calls = _with_period(_topic_calls(text, mode), period, counting)
    referring = any(p in f" {raw} " for p in _REFERRING)
    same_topic = {c["tool"] for c in calls} <= {c["tool"] for c in previous}
    follow_up = referring or raw.lstrip().startswith("and ") or any(p in raw for p in _BEFORE)
    if (previous and referring and same_topic) or (not calls and follow_up):
        # Without an earlier turn this answers "nothing earlier to refer to".
        return RulePlan([], "reuse", confident=True)
    if not calls:
        return RulePlan([], "unknown", confident=False)
    complex_question = any(marker in raw for marker in _COMPLEX)
    return RulePlan(calls, "fact", confident=not complex_question and len(calls) <= 2)


def fallback_calls(question: str) -> list[ToolCall]:
    """Calls for a question nothing recognised: search the notes for its content words."""
    words = [w for w in normalize_name(question).split() if len(w) > 3 and w not in _STOP]
    if not words:
        return [_call("patient_overview")]
    return [_call("clinical_notes", keywords=words[:3])]
