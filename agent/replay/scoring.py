"""Scoring one answer against its question: correctness, evidence and citations.

Four scores per question, each answering a different "can I trust this?":

* ``answer_correct``: the answer states the expected fact (rules by kind below, text
  matching in :mod:`agent.replay.matching`).
* ``evidence_recall``: |expected ∩ retrieved| / |expected| -- did retrieval find the
  resources the answer rests on?  1.0 when nothing is expected.
* ``citation_validity``: the share of citations that are verified by the agent *and*
  name a resource of this patient's record (an id the agent marked verified but that is
  not in the record is still invalid).  ``None`` when the answer cites nothing: an
  answer with zero citations must not score a silent 1.0, so it is reported as
  ``citations: 0`` and left out of the validity average (counted in ``uncited``).
* ``citation_recall``: |expected ∩ cited| / |expected|.

Correctness by kind: ``value_date`` needs every number of the value and the date;
``date`` the date; ``number`` the number; ``count`` the number in the first sentence
(a list of visits is not a count); ``text_contains`` the phrase as a whole word (and the
date if given); ``series`` every point's date and value; ``set`` every item's name (and
the date if given), and no citation outside ``allowed_references`` when the set is
exclusive -- naming a stopped drug as current is wrong even if the current ones are
there.  An expected empty set needs an explicit "no/none" and no citation at all.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.replay import matching
from agent.replay.model import ExpectedAnswer, Question

__all__ = ["AnswerScore", "check_answer", "extract_citations", "score_answer"]


@dataclass(frozen=True)
class AnswerScore:
    answer_correct: bool
    evidence_recall: float
    citation_validity: float | None
    citation_recall: float
    citations: int
    invalid_citations: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    false_absence: bool = False
    different_person: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _numbers_of(value: str | float | None) -> list[float]:
    if value is None:
        return []
    if isinstance(value, int | float):
        return [float(value)]
    return [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", value)]


def check_answer(expected: ExpectedAnswer, answer: str, cited: list[str]) -> list[str]:
    """Why the answer is wrong (empty when it is right)."""
    problems: list[str] = []
    dates = matching.dates_in(answer)
    numbers = matching.numbers_in(answer)
    if expected.date is not None and expected.date not in dates:
        problems.append(f"date {expected.date} not stated")
    kind = expected.kind
    if kind in ("value_date", "number"):
        for value in _numbers_of(expected.value):
            if not matching.number_matches(value, numbers):
                problems.append(f"value {value:g} not stated")
    elif kind == "count":
        count = _numbers_of(expected.value)
        first = matching.first_sentence(answer)
        head = matching.numbers_in(first)
        stated = bool(count) and matching.number_matches(count[0], head)
        counts = [n for n in head if not (n.is_integer() and 1900 <= n <= 2100)]
        if count == [0.0] and not counts and matching.says_none(first):
            stated = True  # "No emergency encounters in 2024" states a count of zero
        if not stated:
            problems.append(f"count {expected.value} not stated in the first sentence")
    elif kind == "yes_no":
        problems += _check_yes_no(expected, answer)
    elif kind == "refusal":
        problems += _check_refusal(expected, answer, cited)
    elif kind == "text_contains":
        if not matching.contains_word(answer, str(expected.value or "")):
            problems.append(f"{expected.value!r} not mentioned")
    elif kind == "series":
        for day, value in expected.points:
            if day not in dates or not matching.number_matches(value, numbers):
                problems.append(f"point {day} {value:g} missing")
    elif kind == "set":
        problems += _check_set(expected, answer, cited)
    elif kind != "date":
        problems.append(f"unknown answer kind {kind!r}")
    return problems


def _check_yes_no(expected: ExpectedAnswer, answer: str) -> list[str]:
    said = matching.yes_or_no(matching.first_sentence(answer))
    if said != expected.value:
        return [f"the first sentence does not say {expected.value!r} (it says {said!r})"]
    named = any(matching.name_matches(item.names, answer) for item in expected.items)
    if expected.value == "yes" and expected.items and not named:
        return [f"names none of {[i.name for i in expected.items][:4]}"]
    return []


def _check_refusal(expected: ExpectedAnswer, answer: str, cited: list[str]) -> list[str]:
    problems = [f"cites {len(cited)} reference(s) instead of declining"] if cited else []
    reason = str(expected.value or "")
    if reason.startswith("person:"):
        family = reason.split(":", 1)[1].split()[-1]
        if not matching.contains_word(answer, family) or not matching.says_none(answer):
            problems.append(f"does not say the record is not about {reason[7:]}")
    elif not matching.declines_language(answer):
        problems.append("does not say the question was not understood")
    return problems


def _positive(expected: ExpectedAnswer) -> bool:
    """Whether the record holds what the question asks about (so absence would be false)."""
    if expected.kind == "set":
        return bool(expected.items)
    if expected.kind == "count":
        return bool(_numbers_of(expected.value)) and _numbers_of(expected.value)[0] > 0
    if expected.kind == "yes_no":
        return expected.value == "yes"
    return expected.kind != "refusal"


def _check_set(expected: ExpectedAnswer, answer: str, cited: list[str]) -> list[str]:
    if not expected.items:
        problems = [] if matching.says_none(answer) else ["does not say there is none"]
        if cited:
            problems.append(f"cites {len(cited)} reference(s) where none exist")
        return problems
    problems = [
        f"missing {item.name!r}"
        for item in expected.items
        if not matching.name_matches(item.names, answer)
    ]
    if expected.allowed_references is not None and expected.allowed_references:
        allowed = set(expected.allowed_references)
        types = {r.split("/")[0] for r in allowed}
        extra = [r for r in cited if r.split("/")[0] in types and r not in allowed]
        problems += [f"lists {r}, which does not belong in the answer" for r in extra]
    return problems


def extract_citations(output: dict[str, Any]) -> list[tuple[str, bool]]:
    """(reference, verified) for every citation, including inline ones the list lacks.

    An inline ``[Type/id]`` absent from ``citations`` was never verified, so it counts
    as unverified rather than being ignored.
    """
    found: dict[str, bool] = {}
    for citation in output.get("citations") or []:
        if isinstance(citation, dict) and isinstance(citation.get("reference"), str):
            ref = citation["reference"]
            found[ref] = found.get(ref, True) and bool(citation.get("verified"))
    for ref in matching.cited_in_text(str(output.get("answer") or "")):
        found.setdefault(ref, False)
    return list(found.items())


def _recall(expected: tuple[str, ...], got: set[str]) -> float:
    if not expected:
        return 1.0
    return len(set(expected) & got) / len(set(expected))


def score_answer(
    question: Question, output: dict[str, Any], record_references: set[str] | None = None
) -> AnswerScore:
    """Score one agent output (the JSON contract) against ``question``.

    ``record_references`` is every ``Type/id`` in the patient's record; when given, a
    citation must also name one of them to count as valid.
    """
    answer = str(output.get("answer") or "")
    citations = extract_citations(output)
    cited = [ref for ref, _ in citations]
    evidence = {
        str(e.get("reference"))
        for e in output.get("evidence") or []
        if isinstance(e, dict) and e.get("reference")
    }
    invalid = [
        ref
        for ref, verified in citations
        if not verified or (record_references is not None and ref not in record_references)
    ]
    validity = None if not citations else (len(citations) - len(invalid)) / len(citations)
    problems = check_answer(question.expected, answer, cited)
    expected = question.expected
    person = expected.kind == "refusal" and str(expected.value or "").startswith("person:")
    return AnswerScore(
        answer_correct=not problems,
        evidence_recall=_recall(question.expected_references, evidence),
        citation_validity=validity,
        citation_recall=_recall(question.expected_references, set(cited)),
        citations=len(citations),
        invalid_citations=invalid,
        problems=problems,
        false_absence=_positive(expected) and matching.states_absence(answer),
        different_person=person and bool(problems),
    )
