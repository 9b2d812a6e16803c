"""Extractive answers by what the question asks: yes/no, extremes, thresholds, the last N,
firsts, the last visit, reasons.

Each composer reads the turn's typed reading (never the question's words) and the
retrieved evidence, copies values and dates from evidence lines and cites them, so the
answer passes the same verification as a model's.  Absence is only stated about what
was searched, naming it (the concept resolver's own sentence when it has one); a
concept nobody understood gets "cannot tell", never "none".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from agent.reading import Reading
from agent.reading.shorthand import expand_shorthand
from agent.results import result_from_json
from agent.state import StepRecord
from tools.evidence import Evidence, ToolResult
from tools.registry import ToolSpec, spec_of
from tools.vocabulary import normalize_name

__all__ = ["Retrieved", "compose_by_kind", "is_latest_few", "latest_sentences", "retrieved"]

Cite = Callable[[str], str]
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_CURRENT_WORDS = re.compile(r"\b(?:on|taking|take|takes|currently|current|prescribed)\b")
_SHOWN = 8
_YES_LISTED = 30  # a "yes, these" answer lists the matches up to here, then counts the rest
_LATEST_FEW = 3
_FAMILY_NAMES_TEXT = (
    "medication medications meds drug drugs condition conditions problem problems vis"
    "it visits encounter encounters vaccine vaccines history any"
)
_FAMILY_NAMES = frozenset(_FAMILY_NAMES_TEXT.split())
# A screening or test for a disorder is not evidence that the patient has it ("Urine
# screening test for diabetes" is no "yes" to "is she diabetic?").
_SCREENING = re.compile(r"\b(?:screening|screen|test|testing)\b", re.IGNORECASE)
_SCREENING_KINDS = ("Procedure", "Observation", "DiagnosticReport")
_PLAN_WORDS = re.compile(r"\b(?:plans?|careplans?|diet|program(?:me)?|therapy|care)\b", re.I)
# "what is she on for her pressure": a what-question is answered with the list, not "Yes".
_WHAT_QUESTION = re.compile(r"^\s*(?:what|which)\b", re.IGNORECASE)


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
        """The step's tool spec (a tool of another toolset gets a bare one)."""
        return spec_of(self.tool) or ToolSpec(self.tool, "", {})


def retrieved(steps: list[StepRecord]) -> list[Retrieved]:
    """The successful tool steps of the turn."""
    return [
        Retrieved(step, result_from_json(step["result"]))  # type: ignore[arg-type]
        for step in steps
        if step["node"] == "act" and step.get("result") is not None and not step.get("error")
    ]


def _ref(item: Evidence, cite: Cite) -> str:
    return f"[{cite(item.reference)}]"


def _number(item: Evidence) -> float | None:
    match = _NUMBER.search(item.value)
    return float(match.group()) if match else None


def _in_period(item: Evidence, reading: Reading) -> bool:
    period = reading.period
    if period is None:
        return True
    day = (item.date or "")[:10]
    if not day:
        return False
    return day >= period.since and (period.until is None or day <= period.until)


def _observations(found: list[Retrieved], reading: Reading) -> list[Evidence]:
    items = [
        e
        for r in found
        if r.spec.kind == "observation"
        for e in r.result.evidence
        if _number(e) is not None and _in_period(e, reading)
    ]
    return sorted(items, key=lambda e: e.date or "")


def _when(reading: Reading) -> str:
    return f" {reading.period.phrase}" if reading.period and reading.period.phrase else ""


def _extreme(found: list[Retrieved], reading: Reading, cite: Cite) -> list[str] | None:
    items = _observations(found, reading)
    if not items:
        return None
    numbers = [_number(e) or 0.0 for e in items]
    best = max(numbers) if reading.extreme != "lowest" else min(numbers)
    top = [e for e, n in zip(items, numbers, strict=True) if n == best]
    word = "lowest" if reading.extreme == "lowest" else "highest"
    label = top[0].label or "result"
    stated = " and ".join(f"{e.value} on {e.date} {_ref(e, cite)}" for e in top)
    more = any(r.result.truncated for r in found if r.spec.kind == "observation")
    scope = f"the {len(items)}{' most recent' if more else ''} {label} results{_when(reading)}"
    return [f"The {word} {label} was {stated}, among {scope}."]


def _threshold(found: list[Retrieved], reading: Reading, cite: Cite) -> list[str] | None:
    threshold = reading.threshold
    items = _observations(found, reading)
    if threshold is None or not any(r.spec.kind == "observation" for r in found):
        return None
    if not items:
        return None
    hits = [e for e in items if threshold.holds(_number(e) or 0.0)]
    label = items[0].label or "result"
    refs = "".join(_ref(e, cite) for e in hits)
    verb = "was" if len(hits) == 1 else "were"
    more = any(r.result.truncated for r in found if r.spec.kind == "observation")
    head = (
        f"{len(hits)} of the {len(items)}{' most recent' if more else ''} {label} "
        f"results{_when(reading)} {verb} "
        f"{threshold.words} {refs}".rstrip()
        + "."
    )
    return [head, *(f"- {e.text} {_ref(e, cite)}" for e in hits[:_SHOWN])]


def _compare(found: list[Retrieved], reading: Reading, cite: Cite) -> list[str] | None:
    items = _observations(found, reading)
    wanted = reading.last_n or 2
    if len(items) < 2:
        return None
    last = items[-wanted:]
    label = last[-1].label or "result"
    stated = "; ".join(f"{e.value} on {e.date} {_ref(e, cite)}" for e in last)
    first, final = _number(last[0]) or 0.0, _number(last[-1]) or 0.0
    change = "higher than" if final > first else "lower than" if final < first else "the same as"
    return [
        f"The last {len(last)} {label} results: {stated}.",
        f"The most recent is {change} the earliest of these.",
    ]


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


def _relevant(found: list[Retrieved], reading: Reading) -> list[Evidence]:
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
        items += [e for e in kept if _in_period(e, reading)]
    return items


def _first_item(found: list[Retrieved], reading: Reading, cite: Cite) -> list[str] | None:
    items = [e for e in _relevant(found, reading) if e.date]
    diagnosed = [e for e in items if e.kind == "Condition"]
    if diagnosed and ("condition" in reading.families or any(c.hint for c in reading.concepts)):
        items = diagnosed  # "when was X diagnosed": the condition, not a screening answer
    if not items:
        return None
    oldest = min(items, key=lambda e: e.date or "")
    noun = {"Encounter": "encounter", "Condition": "record of it"}.get(oldest.kind, "record")
    more = any(r.result.truncated for r in found)
    caveat = " (the earliest of those retrieved; the record holds more)" if more else ""
    return [
        f"The first {noun} on record was on {oldest.date}: {oldest.undated_text} "
        f"{_ref(oldest, cite)}{caveat}."
    ]


def _timeline(found: list[Retrieved], cite: Cite) -> list[str] | None:
    visits = [e for r in found if r.spec.family == "encounter" for e in r.result.evidence]
    if not visits:
        return None
    visit = max(visits, key=lambda e: e.date or "")
    lines = [
        f"The most recent encounter was on {visit.date}: {visit.undated_text} {_ref(visit, cite)}."
    ]
    same_day = [
        e
        for r in found
        if r.spec.family != "encounter"
        for e in r.result.evidence
        if e.date == visit.date
    ]
    if same_day:
        lines.append("Recorded that day:")
        lines += [f"- {e.text} {_ref(e, cite)}" for e in same_day[:_SHOWN]]
    return lines


_REASON_LINE = re.compile(r"\breason for [^:]+:\s*(?P<reason>.+?)\s*$", re.IGNORECASE)


def _reason_of(item: Evidence) -> str | None:
    """The reason an evidence line states: "... for X" in its value, or a "Reason for
    Y: X" line (an order's reasonReference)."""
    if " for " in f" {item.value} ":
        return item.value.split("for ", 1)[1]
    match = _REASON_LINE.search(item.text)
    return match.group("reason") if match else None


def _why(found: list[Retrieved], reading: Reading, cite: Cite) -> list[str] | None:
    items = [e for r in found for e in r.result.evidence if _in_period(e, reading)]
    if not items:
        return None
    reasoned = [(e, reason) for e in items if (reason := _reason_of(e))]
    if reasoned:
        item, reason = max(reasoned, key=lambda pair: pair[0].date or "")
        return [
            f"The record gives the reason as {reason}: {item.text} {_ref(item, cite)}.",
        ]
    item = max(items, key=lambda e: e.date or "")
    # The absence is said uncited (it is about every line retrieved); the latest line
    # is cited for what it states.
    return [
        f"None of the {len(items)} matching entries retrieved states a reason.",
        f"The most recent is {item.text} {_ref(item, cite)}.",
    ]


def _absence(found: list[Retrieved], reading: Reading) -> str | None:
    """What was searched, as the search itself reported it; ``None`` if unknowable."""
    for concept in reading.concepts:
        if concept.absence:
            return concept.absence
    for r in found:
        for note in r.result.notes:
            if note.startswith("No ") and r.spec.kind == "concept":
                return note
    for r in found:
        for note in r.result.notes:
            if (
                r.tool == "search_record"
                and note.startswith("No text in the record")
                and not (r.step["arguments"].get("since") or r.step["arguments"].get("until"))
            ):
                # Every word of the whole record (codes, values, notes) was searched:
                # that absence can be stated, with the caveat that a synonym is missed.
                return (
                    note.rstrip(".") + "; the term is not in the vocabularies, so a synonym "
                    "would be missed."
                )
    lists = [r for r in found if r.spec.phrasing.searched is not None]
    if lists and reading.concepts:
        r = lists[0]
        total = r.result.total_available
        total = len(r.result.evidence) if total is None else total
        status = r.step["arguments"].get("status")
        which = f"{status} " if status in ("active", "stopped") else ""
        concept = reading.concepts[0]
        caveat = (
            " (the term is not in the vocabularies, so a synonym would be missed)"
            if concept.found == "not_understood"
            else ""
        )
        return (
            f"None of the {total} {which}{r.spec.phrasing.searched} in this record mentions "
            f"'{concept.phrase}'{caveat}."
        )
    return None


def _yes_no(
    found: list[Retrieved], reading: Reading, cite: Cite, question: str
) -> list[str] | None:
    items = _relevant(found, reading)
    if not _SCREENING.search(question):  # unless a screening or test is what is asked
        items = [e for e in items if not (e.kind in _SCREENING_KINDS and _SCREENING.search(e.text))]
    if not _PLAN_WORDS.search(question):
        # A care plan ("Diabetes self management plan", written for prediabetes too) is
        # no diagnosis: "is she diabetic?" is not answered yes by it.
        items = [e for e in items if e.kind != "CarePlan"]
    families = set(reading.families) | {c.hint for c in reading.concepts if c.hint}
    current = "medication" in families and _CURRENT_WORDS.search(expand_shorthand(question).lower())
    if current and reading.status != "all":
        # Only medication orders answer "is she on ...": a lab that matched the same
        # words ("sugar" -> glucose) is neither an order nor evidence of one.
        orders = [e for e in items if e.kind.startswith("Medication")]
        active = [e for e in orders if "active" in e.value]
        if not active and orders:
            latest = max(orders, key=lambda e: e.date or "")
            return [
                f"No: none of the matching medication orders is active; the most recent "
                f"was {latest.text} {_ref(latest, cite)}."
            ]
        items = active
    if items:
        unique: dict[str, Evidence] = {}
        for item in sorted(items, key=lambda e: e.date or "", reverse=True):
            unique.setdefault(item.label or item.text, item)
        matches = list(unique.values())
        listed = "; ".join(f"{e.text} {_ref(e, cite)}" for e in matches[:_YES_LISTED])
        more = len(matches) - _YES_LISTED
        opening = "Yes"
        if _WHAT_QUESTION.search(expand_shorthand(question)) and reading.concepts:
            name = reading.concepts[0].name or reading.concepts[0].phrase
            opening = name[:1].upper() + name[1:]
        return [f"{opening}: {listed}" + (f"; and {more} more (not listed)." if more > 0 else ".")]
    absence = _absence(found, reading)
    if absence is None and not reading.concepts:
        return None
    if absence is None:
        phrase = reading.concepts[0].phrase
        return [
            f"I cannot tell: '{phrase}' is not a term the vocabularies or this record know, "
            "so its absence cannot be stated."
        ]
    return [
        f"No: {absence[0].lower()}{absence[1:]}" if absence.startswith("No") else f"No: {absence}"
    ]


def is_latest_few(step: StepRecord) -> bool:
    """A lab/vital step that fetched the newest few results to answer "the latest"."""
    arguments = step["arguments"]
    spec = spec_of(step["tool"])
    return (
        spec is not None
        and spec.kind == "observation"
        and arguments.get("mode") == "series"
        and int(arguments.get("limit") or 0) <= _LATEST_FEW
    )


def latest_sentences(result: ToolResult, reading: Reading, cite: Cite) -> list[str]:
    """The newest result of each test; same-day results that disagree are all stated."""
    items = [e for e in result.evidence if _in_period(e, reading)]
    if not items:
        return [result.notes[0] if result.notes else "No such result in this window."]
    sentences: list[str] = []
    for label in dict.fromkeys(e.label for e in items):
        same_test = [e for e in items if e.label == label]
        newest = max(e.date or "" for e in same_test)
        that_day = [e for e in same_test if (e.date or "") == newest]
        if len({e.value for e in that_day}) > 1:
            stated = " and ".join(f"{e.value} {_ref(e, cite)}" for e in that_day)
            sentences.append(
                f"The most recent {label} results, both on {newest}, disagree: {stated}; "
                "both are shown, as the record states both."
            )
            continue
        item = that_day[0]
        if _NUMBER.search(item.value or "") is None:
            # A finding, not a measurement ("Ex-smoker"): said the way a chart says it.
            sentences.append(f"{label}: {item.value} ({item.date}) {_ref(item, cite)}.")
            continue
        sentences.append(
            f"The most recent {label} was {item.value} on {item.date} {_ref(item, cite)}."
        )
    return sentences


def compose_by_kind(
    steps: list[StepRecord], reading: Reading, cite: Cite, question: str
) -> list[str] | None:
    """The answer for the reading's kind, or ``None`` to use the per-tool sentences."""
    found = retrieved(steps)
    if not found:
        return None
    if reading.asks == "yes_no":
        return _yes_no(found, reading, cite, question)
    if reading.asks == "extreme":
        return _extreme(found, reading, cite)
    if reading.asks == "count" and reading.threshold is not None:
        return _threshold(found, reading, cite)
    if reading.asks == "compare":
        return _compare(found, reading, cite)
    if reading.asks == "timeline":
        return _timeline(found, cite)
    if reading.asks == "why":
        return _why(found, reading, cite)
    observation = any(r.spec.kind == "observation" for r in found)
    by_tool = any(r.step["arguments"].get("mode") == "first" for r in found)
    if reading.ordinal == "first" and not observation and not by_tool:
        return _first_item(found, reading, cite)
    return None
