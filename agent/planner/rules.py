"""The rule-based planner: a question's words mapped to tool calls.

It serves three purposes: the whole planner when there is no model (``--model none``),
the router that lets a recognised single-fact question skip the model's planning call
(so such a question costs one LLM call, the answer), and the fallback when a model's
plan is invalid twice.  It uses the tools' own vocabulary (``tools.vocabulary``) so a
lab or vaccine name the tools understand is recognised here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from agent.planner.first_orders import first_prescribed
from agent.reading import Concept, Reading, read_question
from agent.reading.lay_events import SURGERY_WORDS
from agent.reading.periods import find_period
from agent.reading.rules import VISIT_KINDS, VISIT_WORDS
from agent.reading.rules import has_words as _has
from agent.reading.shorthand import expand_shorthand
from agent.state import ToolCall
from tools.declare import ToolKind, ToolName
from tools.registry import spec_of
from tools.schemas import TOOL_SCHEMAS
from tools.vocabulary import normalize_name

__all__ = [
    "Mode",
    "RulePlan",
    "for_extractive",
    "plan_question",
    "plan_reading",
    "question_mode",
]

Mode = Literal["latest", "first", "series"]
Intent = Literal["fact", "followup", "reuse", "decline", "unknown"]

_FIRST = ("first", "earliest", "initial", "oldest")
INSURANCE_WORDS = ("insur*", "uninsured", "payer*", "payor*", "coverage")
"""Words with which the planner asks ``insurance`` (who pays), not ``billing`` (costs)."""
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
    *("before that", "before this", "prior to that", "earlier", "previous one"),
    *("the one before", "before then"),
)
_REFERRING = ("those", "these", "them", "of it", "that one", "which one", "which of")
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


def _call(tool: ToolName, **arguments: Any) -> ToolCall:
    return {"tool": tool, "arguments": {k: v for k, v in arguments.items() if v is not None}}


def question_mode(text: str) -> Mode:
    """latest (default), first, or series, from the question's wording."""
    if _has(text, *_FIRST):
        return "first"
    if _has(text, "latest", "last", "most recent", "current", "newest"):
        return "latest"
    if any(phrase in text for phrase in _SERIES):
        return "series"
    return "latest"


def _encounter_call(text: str, mode: Mode, reading: Reading) -> ToolCall:
    kind = next((k for k in VISIT_KINDS if _has(text, k)), None)
    latest = mode == "latest" and _has(text, "last", "latest", "recent")
    if reading.asks == "timeline" or (latest and reading.asks not in ("count", "list")):
        limit: int | None = 1
    elif reading.ordinal == "first" or reading.asks == "count":
        limit = _WHOLE_WINDOW
    else:
        limit = None
    return _call("encounters", encounter_type=kind, limit=limit)


def _topic_calls(text: str, mode: Mode, reading: Reading) -> list[ToolCall]:
    """Calls for the record families the question names in words."""
    calls: list[ToolCall] = []
    if _has(text, "vaccin*", "immuniz*", "immunis*", "shot*", "jab*"):
        calls.append(_call("immunizations"))
    drugs = ("medication*", "medicine*", "meds", "drug*", "prescri*", "taking", "pills")
    if reading.allergy_category is None and _has(text, *drugs):  # not "drug allergies"
        status = reading.status if reading.status in ("stopped", "all") else "active"
        calls.append(_call("medications", status=status))
    if _has(text, "allerg*", "intoleran*", "allergic"):
        calls.append(_call("allergies", status="active", category=reading.allergy_category))
    if _has(text, *VISIT_WORDS):
        calls.append(_encounter_call(text, mode, reading))
    if _has(text, "condition*", "problem*", "diagnos*", "disease*", "illness*"):
        ended = _has(text, "resolved", "cured", "gone")  # "which conditions have resolved"
        every = _has(text, "past", "history", "ever", "all")
        calls.append(
            _call("conditions", status="resolved" if ended else "all" if every else "active")
        )
    if _has(text, "procedure*", "surger*", "operation*", "operated"):
        calls.append(_call("procedures", kind="surgical" if _has(text, *SURGERY_WORDS) else None))
    if _has(text, "care plan*", "careplan*"):
        calls.append(_call("care_plans"))
    if _has(text, "goal*", "target*"):
        calls.append(_call("goals"))
    insurance = _has(text, *INSURANCE_WORDS)
    if _has(
        text,
        *("age", "old", "born", "birth*", "gender", "sex", "name", "deceased", "alive"),
        *("demographic*", "dob"),
        *(() if insurance else ("who is",)),  # "who is his insurer" names a payer
    ):
        calls.append(_call("patient_overview"))
    if insurance:
        calls.append(_call("insurance"))  # who pays: the payers the claims name
    if _has(text, "bill*", "claim*", "cost*", "paid"):
        calls.append(_call("billing"))
    wrote = (
        _has(text, "wrote", "written")
        and reading.allergy_category is None
        and not any(call["tool"] == "medications" for call in calls)
    )  # "prescriptions written in 2020" asks for orders, not notes
    if wrote or _has(text, "note*", "documented", "mention*"):
        words = [w for w in text.split() if len(w) > 3 and w not in _STOP][:3]
        calls.append(_call("clinical_notes", keywords=words or None))
    return calls


def _day_before(day: str) -> str | None:
    try:
        return (date.fromisoformat(day[:10]) - timedelta(days=1)).isoformat()
    except ValueError:
        return None


# Enough for every visit/procedure/dose of a window; the tool reports a larger total.
_WHOLE_WINDOW = 200
_WHOLE_SERIES = 50
_LATEST_FEW = 3
_VISIT_ITEMS = 60  # a wellness visit's panels (Synthea: up to 35 results) and its heading


def _kind(tool: str) -> ToolKind | None:
    """The kind of a tool (``tools.declare.ToolKind``) from its spec; None if unknown."""
    spec = spec_of(tool)
    return spec.kind if spec is not None else None


def _whole_window_fits(tool: str) -> bool:
    """Whether the tool's ``limit`` reaches a whole window (its schema's maximum)."""
    limit = TOOL_SCHEMAS.get(tool, {}).get("properties", {}).get("limit", {})
    return int(limit.get("maximum", 0)) >= _WHOLE_WINDOW


def _before(previous: list[ToolCall], earliest: dict[str, str]) -> list[ToolCall]:
    """Repeat the previous turn's dated calls, ending the day before what they found."""
    calls: list[ToolCall] = []
    for call in previous:
        found = earliest.get(call["tool"])
        until = _day_before(found) if found else None
        if _kind(call["tool"]) not in ("observation", "event") or until is None:
            continue
        arguments = {k: v for k, v in call["arguments"].items() if k not in ("since", "until")}
        if _kind(call["tool"]) == "observation":
            arguments["mode"] = "latest"
        calls.append({"tool": call["tool"], "arguments": {**arguments, "until": until}})
    return calls


def _with_period(calls: list[ToolCall], reading: Reading) -> list[ToolCall]:
    """Put the reading's period on every call that takes one (never silently dropped: a
    tool without a window is asked for everything and the answer keeps the window's
    items); a count fetches its whole window."""
    period = reading.period
    counting = reading.asks in ("count", "extreme") or reading.threshold is not None
    out: list[ToolCall] = []
    for call in calls:
        arguments = dict(call["arguments"])
        tool = call["tool"]
        windowed = "since" in TOOL_SCHEMAS.get(tool, {}).get("properties", {})
        if period is not None and windowed:
            arguments["since"] = period.since
            if period.until:
                arguments["until"] = period.until
            if arguments.get("status") == "active" and reading.status != "active":
                arguments["status"] = "all"  # "prescribed in 2019" includes stopped orders
            if _kind(tool) == "list" and _whole_window_fits(tool):
                arguments["limit"] = _WHOLE_WINDOW
            if counting and "window" in TOOL_SCHEMAS[tool]["properties"]:
                arguments["window"] = "written"  # "how many prescriptions in 2019"
        if _kind(tool) == "event" and (counting or (period and "limit" not in arguments)):
            arguments["limit"] = _WHOLE_WINDOW
        if _kind(tool) == "observation" and counting:
            arguments.update(mode="series", limit=_WHOLE_SERIES)
        out.append({"tool": tool, "arguments": arguments})
    return out


def _observation_call(concept: Concept, reading: Reading) -> ToolCall:
    tool: ToolName = "vital_signs" if concept.family == "vital" else "lab_results"
    if reading.asks in ("extreme", "count") or (reading.asks == "trend" and reading.period):
        return _call(tool, name=concept.name, mode="series", limit=_WHOLE_SERIES)
    if reading.asks == "compare":
        return _call(tool, name=concept.name, mode="series", limit=reading.last_n or 2)
    if reading.asks in ("list", "trend"):
        return _call(tool, name=concept.name, mode="series", limit=10)
    return _call(tool, name=concept.name, mode=reading.ordinal or "latest")


def _concept_calls(concept: Concept, reading: Reading) -> list[ToolCall]:
    """The calls that find one concept: a lab/vital by name, else the record's matches."""
    if concept.family in ("lab", "vital") and concept.name:
        return [_observation_call(concept, reading)]
    if concept.family == "immunization" and concept.name and concept.found == "vocabulary":
        recent = reading.ordinal == "latest" or reading.asks == "value"
        return [_call("immunizations", vaccine=concept.name, limit=3 if recent else None)]
    if "note" in reading.families and concept.family is None:
        return []  # "what do the notes say about X": the notes search is the answer
    if reading.interaction:  # "does X interact with Y": the orders of each drug named
        status = "all" if reading.status == "all" else "active"
        return [_call("medications", name=concept.phrase, status=status)]
    calls = [_call("find_concept", name=concept.phrase, limit=_WHOLE_WINDOW)]
    if concept.found == "not_understood" and concept.hint == "condition":
        # "Does he have gout?": the condition list, searched for the words themselves.
        return [_call("conditions", status="all", limit=_WHOLE_WINDOW)]
    if concept.found == "not_understood" and concept.hint == "medication":
        status = "all" if reading.status == "all" else "active"
        return [_call("medications", status=status, limit=_WHOLE_WINDOW)]
    if concept.found == "not_understood":
        # Nothing knows these words: what the record's text says is all there is.
        return [_call("search_record", name=concept.phrase)]
    return calls


def _family(tool: str) -> str | None:
    """The reading family whose list the tool gives (its spec's ``family``)."""
    spec = spec_of(tool)
    return spec.family if spec is not None else None


def _family_calls(reading: Reading, text: str, mode: Mode) -> list[ToolCall]:
    """Calls for families the question names without a concept ("active medications")."""
    covered = {c.family for c in reading.concepts if c.family is not None}
    calls = [
        call for call in _topic_calls(text, mode, reading) if _family(call["tool"]) not in covered
    ]
    if reading.asks == "timeline" and not any(_family(c["tool"]) == "encounter" for c in calls):
        calls.append(_call("encounters", limit=1))
    if reading.flagged and not reading.concepts:  # "any abnormal labs?": the record's flags
        vital = _has(text, "vital*", "reading*")
        calls.append(_call("flagged_results", category="vital-signs" if vital else "laboratory"))
    if reading.interaction and not reading.concepts:  # "any drug interactions?": all orders
        calls.append(_call("medications", status="active"))
    if reading.care_team:  # "who's her PCP?": who she sees, not her details or visit list
        calls = [*(c for c in calls if _kind(c["tool"]) == "list"), _call("care_team")]
    return calls


def _why_calls(reading: Reading) -> list[ToolCall]:
    """ "Why was he seen on 2019-03-02": that day's visits, whose lines carry the reason."""
    if reading.period is not None and not reading.concepts:
        return [_call("encounters", limit=_WHOLE_WINDOW)]
    return []


def plan_reading(
    reading: Reading,
    question: str,
    previous_calls: list[ToolCall] | None = None,
    earliest: dict[str, str] | None = None,
) -> RulePlan:
    """Tool calls for a question's reading; ``previous_calls``/``earliest`` describe the
    last turn (``earliest`` maps each tool to the earliest date it found, which a
    "before that?" follow-up searches back from)."""
    if reading.language != "en":
        return RulePlan([], "decline", confident=True)
    question = expand_shorthand(question)  # as the reading saw it: "appts" are visits
    raw = question.lower()
    previous = previous_calls or []
    if previous and reading.follow_up == "before":
        calls = _before(previous, earliest or {})
        if calls:
            return RulePlan(calls, "followup", confident=True)
    # "when was metformin last prescribed" asks the newest order, not the first.
    first_order = first_prescribed(question) if reading.ordinal != "latest" else None
    if first_order is not None:
        return RulePlan([first_order], "fact", confident=True)
    if reading.visit_results:  # "labs at his last visit": that visit's, not every newest
        which = "first" if reading.ordinal == "first" else "last"
        visit = _call("visit", which=which, holding="labs", limit=_VISIT_ITEMS)
        return RulePlan(_with_period([visit], reading), "fact", confident=True)
    rest = raw
    if reading.period is not None:
        found = find_period(question)
        rest = raw[: found.span[0]] + " " + raw[found.span[1] :] if found else raw
    text = " " + normalize_name(rest) + " "
    mode = question_mode(text)
    calls = _why_calls(reading) if reading.asks == "why" else []
    for concept in reading.concepts:
        calls.extend(_concept_calls(concept, reading))
    calls.extend(_family_calls(reading, text, mode))
    calls = list({_key(c): c for c in _with_period(calls, reading)}.values())
    referring = reading.follow_up == "refers"
    # Concept lookups and the last-resort record search do not make a new topic.
    named = [c for c in calls if _kind(c["tool"]) not in ("concept", "text")]
    same_topic = {c["tool"] for c in named} <= {c["tool"] for c in previous}
    follow_up = referring or raw.lstrip().startswith("and ") or reading.follow_up == "before"
    if (previous and referring and same_topic) or (not calls and follow_up):
        # Without an earlier turn this answers "nothing earlier to refer to".
        return RulePlan([], "reuse", confident=True)
    if not calls:
        return RulePlan([], "unknown", confident=False)
    if all(c.family is None for c in reading.concepts) and not named:
        # Only words nobody resolved yet: a model may read them better.
        return RulePlan(calls, "unknown", confident=False)
    # A judgement ("is her BP well managed?") is a model's to plan when there is one.
    complex_question = any(marker in raw for marker in _COMPLEX) or reading.judged
    return RulePlan(calls, "fact", confident=not complex_question and len(calls) <= 2)


def for_extractive(calls: list[ToolCall], *, follow_up: bool = False) -> list[ToolCall]:
    """Calls for an answer composed without a model: a "latest" lab or vital fetches the
    newest few results, so two results at the same time that disagree are both stated
    (a model's prompt keeps the one-line form).  A "before that?" follow-up keeps its
    one result before the earlier answer."""
    out: list[ToolCall] = []
    for call in calls:
        arguments = call["arguments"]
        latest = arguments.get("mode", "latest") == "latest" and not follow_up
        if _kind(call["tool"]) == "observation" and latest:
            arguments = {**arguments, "mode": "series", "limit": _LATEST_FEW}
        out.append({"tool": call["tool"], "arguments": arguments})
    return out


def _key(call: ToolCall) -> str:
    return call["tool"] + repr(sorted(call["arguments"].items()))


def plan_question(
    question: str,
    previous_calls: list[ToolCall] | None = None,
    earliest: dict[str, str] | None = None,
) -> RulePlan:
    """Tool calls for ``question`` read by the rules alone (no record resolution)."""
    return plan_reading(read_question(question), question, previous_calls, earliest)


def fallback_calls(question: str) -> list[ToolCall]:
    """Calls for a question nothing recognised: search the notes for its content words."""
    words = [w for w in normalize_name(question).split() if len(w) > 3 and w not in _STOP]
    if not words:
        return [_call("patient_overview")]
    return [_call("clinical_notes", keywords=words[:3])]
