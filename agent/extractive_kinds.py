"""Extractive answers by what the question asks: yes/no, extremes, thresholds, the last N,
firsts, the last visit, reasons.

Each composer reads the turn's typed reading (never the question's words) and the
retrieved evidence (selected by :mod:`agent.extractive_evidence`), copies values and
dates from evidence lines and cites them, so the answer passes the same verification as
a model's.  Yes/no and the statement of absence are :mod:`agent.extractive_yes_no`.
"""

from __future__ import annotations

import re

from agent.extractive_evidence import (
    Cite,
    Retrieved,
    citation,
    in_period,
    number,
    observations,
    period_words,
    relevant,
    retrieved,
)
from agent.extractive_yes_no import yes_no
from agent.reading import Reading
from agent.state import StepRecord
from tools.evidence import Evidence, ToolResult
from tools.registry import spec_of
from tools.vocabulary import find_observation_concept, normalize_name

__all__ = ["DUE_NOTE", "compose_by_kind", "is_latest_few", "latest_of_each", "latest_sentences"]

_SHOWN = 8
_LATEST_FEW = 3

DUE_NOTE = (
    "ehr-agent does not judge what is due, overdue or up to date: that needs a care "
    "schedule, which it does not read from the record."
)
"""Said first to a schedule question (``Reading.due``): no "Yes" or "No" is given."""


def _extreme(found: list[Retrieved], reading: Reading, cite: Cite) -> list[str] | None:
    items = observations(found, reading)
    if not items:
        return None
    numbers = [number(e) or 0.0 for e in items]
    best = max(numbers) if reading.extreme != "lowest" else min(numbers)
    top = [e for e, n in zip(items, numbers, strict=True) if n == best]
    word = "lowest" if reading.extreme == "lowest" else "highest"
    label = top[0].label or "result"
    stated = " and ".join(f"{e.value} on {e.date} {citation(e, cite)}" for e in top)
    more = any(r.result.truncated for r in found if r.spec.kind == "observation")
    scope = (
        f"the {len(items)}{' most recent' if more else ''} {label} results{period_words(reading)}"
    )
    return [f"The {word} {label} was {stated}, among {scope}."]


def _threshold(found: list[Retrieved], reading: Reading, cite: Cite) -> list[str] | None:
    threshold = reading.threshold
    items = observations(found, reading)
    if threshold is None or not any(r.spec.kind == "observation" for r in found):
        return None
    if not items:
        return None
    hits = [e for e in items if threshold.holds(number(e) or 0.0)]
    label = items[0].label or "result"
    refs = "".join(citation(e, cite) for e in hits)
    verb = "was" if len(hits) == 1 else "were"
    more = any(r.result.truncated for r in found if r.spec.kind == "observation")
    head = (
        f"{len(hits)} of the {len(items)}{' most recent' if more else ''} {label} "
        f"results{period_words(reading)} {verb} "
        f"{threshold.words} {refs}".rstrip()
        + "."
    )
    return [head, *(f"- {e.text} {citation(e, cite)}" for e in hits[:_SHOWN])]


def _compare(found: list[Retrieved], reading: Reading, cite: Cite) -> list[str] | None:
    items = observations(found, reading)
    wanted = reading.last_n or 2
    if len(items) < 2:
        return None
    last = items[-wanted:]
    label = last[-1].label or "result"
    stated = "; ".join(f"{e.value} on {e.date} {citation(e, cite)}" for e in last)
    first, final = number(last[0]) or 0.0, number(last[-1]) or 0.0
    change = "higher than" if final > first else "lower than" if final < first else "the same as"
    return [
        f"The last {len(last)} {label} results: {stated}.",
        f"The most recent is {change} the earliest of these.",
    ]


_NOUNS = {
    "Encounter": "encounter",
    "Condition": "diagnosis",
    "Procedure": "procedure",
    "Immunization": "immunization",
    "MedicationRequest": "medication order",
}


def _one_per_resource(items: list[Evidence]) -> list[Evidence]:
    """One line per resource, where it first appears: its last line, which is its own
    (``find_concept`` puts an order's "Reason for X: Y" line before the order's)."""
    return list({item.reference: item for item in items}.values())


def _dated_item(
    found: list[Retrieved], reading: Reading, cite: Cite, *, first: bool
) -> list[str] | None:
    """ "when was she diagnosed", "when was her last colonoscopy": the oldest or newest
    matching entry, then (for the newest) the earlier ones, newest first."""
    items = [e for e in relevant(found, reading) if e.date]
    diagnosed = [e for e in items if e.kind == "Condition"]
    if diagnosed and ("condition" in reading.families or any(c.hint for c in reading.concepts)):
        items = diagnosed  # "when was X diagnosed": the condition, not a screening answer
    if not items:
        return None
    items.sort(key=lambda e: e.date or "", reverse=not first)
    items = _one_per_resource(items)
    chosen = items[0]
    noun = _NOUNS.get(chosen.kind, "entry")
    more = any(r.result.truncated for r in found)
    which = "first" if first else "most recent"
    caveat = " (the earliest of those retrieved; the record holds more)" if more and first else ""
    lines = [
        f"The {which} {noun} in the record was on {chosen.date}: {chosen.undated_text} "
        f"{citation(chosen, cite)}{caveat}."
    ]
    if not first and len(items) > 1:
        lines.append("Earlier:")
        lines += [f"- {e.text} {citation(e, cite)}" for e in items[1:_SHOWN]]
    return lines


def latest_of_each(found: list[Retrieved], reading: Reading, cite: Cite) -> list[str]:
    """What was last done of each thing retrieved, newest first: "- 2024-03-02 Influenza
    vaccine [1]" (the answer to a schedule question; empty when nothing dated matched)."""
    newest: dict[tuple[str, str], Evidence] = {}
    for item in relevant(found, reading):
        key = (item.kind, normalize_name(item.label or item.undated_text))
        if item.date and (key not in newest or item.date > (newest[key].date or "")):
            newest[key] = item
    if not newest:
        return []
    items = sorted(newest.values(), key=lambda e: e.date or "", reverse=True)
    lines = ["Last on record:"]
    lines += [f"- {e.text} {citation(e, cite)}" for e in items[:_SHOWN]]
    if len(items) > _SHOWN:
        lines.append(f"Only the {_SHOWN} most recent of them are shown.")
    return lines


def _timeline(found: list[Retrieved], cite: Cite) -> list[str] | None:
    visits = [e for r in found if r.spec.family == "encounter" for e in r.result.evidence]
    if not visits:
        return None
    visit = max(visits, key=lambda e: e.date or "")
    lines = [
        f"The most recent encounter was on {visit.date}: {visit.undated_text} "
        f"{citation(visit, cite)}."
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
        lines += [f"- {e.text} {citation(e, cite)}" for e in same_day[:_SHOWN]]
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
    items = [e for r in found for e in r.result.evidence if in_period(e, reading)]
    if not items:
        return None
    reasoned = [(e, reason) for e in items if (reason := _reason_of(e))]
    if reasoned:
        item, reason = max(reasoned, key=lambda pair: pair[0].date or "")
        return [
            f"The record gives the reason as {reason}: {item.text} {citation(item, cite)}.",
        ]
    item = max(items, key=lambda e: e.date or "")
    # The absence is said uncited (it is about every line retrieved); the latest line
    # is cited for what it states.
    return [
        f"None of the {len(items)} matching entries retrieved states a reason.",
        f"The most recent is {item.text} {citation(item, cite)}.",
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
    items = [e for e in result.evidence if in_period(e, reading)]
    if not items:
        return [result.notes[0] if result.notes else "No such result in this window."]
    sentences: list[str] = []
    for label in dict.fromkeys(e.label for e in items):
        same_test = [e for e in items if e.label == label]
        newest = max(e.date or "" for e in same_test)
        that_day = [e for e in same_test if (e.date or "") == newest]
        if len({e.value for e in that_day}) > 1:
            stated = " and ".join(f"{e.value} {citation(e, cite)}" for e in that_day)
            sentences.append(
                f"The most recent {label} results, both on {newest}, disagree: {stated}; "
                "both are shown, as the record states both."
            )
            continue
        item = that_day[0]
        if number(item) is None:
            # A finding, not a measurement ("Ex-smoker"): said the way a chart says it.
            sentences.append(f"{label}: {item.value} ({item.date}) {citation(item, cite)}.")
            continue
        sentence = (
            f"The most recent {label} was {item.value} on {item.date} {citation(item, cite)}."
        )
        sentences.append(sentence + _earlier_scores(result, same_test, item, reading, cite))
    return sentences


def _earlier_scores(
    result: ToolResult, same_test: list[Evidence], newest: Evidence, reading: Reading, cite: Cite
) -> str:
    """For a questionnaire score ("does he drink?": the AUDIT-C), the earlier scores fetched
    and how many the record holds: one score alone says little about a habit."""
    concept = find_observation_concept(newest.label)
    if concept is None or concept.kind != "survey" or number(newest) is None:
        return ""
    earlier = sorted(
        (e for e in same_test if e is not newest and number(e) is not None),
        key=lambda e: e.date or "",
        reverse=True,
    )
    where = period_words(reading) or " in the record"
    if not earlier:
        alone = len(same_test) == 1 and not result.truncated
        return f" It is the only {newest.label} result{where}." if alone else ""
    stated = ", ".join(f"{e.value} on {e.date} {citation(e, cite)}" for e in earlier)
    total = result.total_available or len(same_test)
    return f" Earlier: {stated}; {total} {newest.label} results{where}."


def compose_by_kind(
    steps: list[StepRecord], reading: Reading, cite: Cite, question: str
) -> list[str] | None:
    """The answer for the reading's kind, or ``None`` to use the per-tool sentences."""
    found = retrieved(steps)
    if not found or any(r.spec.phrasing.reports for r in found):
        return None  # a report's own sentences answer (``agent.extractive._report``)
    if reading.asks == "yes_no":
        return yes_no(found, reading, cite, question)
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
        return _dated_item(found, reading, cite, first=True)
    matches_only = all(r.spec.kind == "concept" for r in found)  # no notes, no lists
    if reading.ordinal == "latest" and reading.asks == "value" and matches_only:
        return _dated_item(found, reading, cite, first=False)
    return None
