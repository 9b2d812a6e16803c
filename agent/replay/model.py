"""The replay's data: a question, the answer the record supports, and the references behind it.

Plain frozen dataclasses with explicit ``to_json``/``from_json`` because questions travel
through YAML files, the JSONL checkpoint and the JSON report, and a report written by an
older run must still load for ``--compare``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

__all__ = [
    "AnswerKind",
    "ExpectedAnswer",
    "ExpectedItem",
    "Question",
    "make_question",
    "question_id",
]

AnswerKind = Literal[
    "value_date", "date", "set", "number", "text_contains", "count", "series", "yes_no", "refusal"
]
ANSWER_KINDS: tuple[str, ...] = get_args(AnswerKind)


@dataclass(frozen=True)
class ExpectedItem:
    """One member of an expected set, with every name an answer may use for it.

    Why several names: the record says "Influenza, seasonal, injectable, preservative
    free" where a clinician (and the tools) say "influenza vaccine"; any alias matches.
    """

    name: str
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "aliases": list(self.aliases)}

    @classmethod
    def from_json(cls, data: Any) -> ExpectedItem:
        if isinstance(data, str):
            return cls(data)
        return cls(str(data["name"]), tuple(str(a) for a in data.get("aliases") or ()))


@dataclass(frozen=True)
class ExpectedAnswer:
    """What a correct answer must state; which fields matter depends on ``kind``.

    * ``value_date``: ``value`` (a number, or numbers such as "112/51") and ``date``.
    * ``date``: ``date`` (YYYY-MM-DD).
    * ``number`` / ``count``: ``value`` as a number.
    * ``text_contains``: ``value`` as text (case-insensitive), plus ``date`` if given.
    * ``set``: every one of ``items`` (``date`` too if given); an empty set means the
      answer must say there is none.  ``allowed_references`` (when not None) makes the
      set exclusive: citing a resource outside it (an inactive medication listed as
      current) makes the answer wrong.
    * ``series``: ``points`` of (date, value), every one stated.
    * ``yes_no``: ``value`` "yes" or "no" in the first sentence; for "yes", at least one
      of ``items`` named (what makes it yes).
    * ``refusal``: ``value`` "person:<name>" (another person is named: the answer must
      say so, naming them, and cite nothing) or "language" (the answer must say the
      question was not understood, and cite nothing).
    """

    kind: AnswerKind
    value: str | float | None = None
    date: str | None = None
    items: tuple[ExpectedItem, ...] = ()
    points: tuple[tuple[str, float], ...] = ()
    allowed_references: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.value is not None:
            data["value"] = self.value
        if self.date is not None:
            data["date"] = self.date
        if self.items or self.kind == "set":
            data["items"] = [item.to_json() for item in self.items]
        if self.points:
            data["points"] = [[day, value] for day, value in self.points]
        if self.allowed_references is not None:
            data["allowed_references"] = list(self.allowed_references)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExpectedAnswer:
        kind = data.get("kind")
        if kind not in ANSWER_KINDS:
            raise ValueError(f"unknown answer kind {kind!r}; use one of {', '.join(ANSWER_KINDS)}")
        allowed = data.get("allowed_references")
        return cls(
            kind=cast(AnswerKind, kind),
            value=data.get("value"),
            date=str(data["date"]) if data.get("date") is not None else None,
            items=tuple(ExpectedItem.from_json(i) for i in data.get("items") or ()),
            points=tuple((str(d), float(v)) for d, v in data.get("points") or ()),
            allowed_references=tuple(str(r) for r in allowed) if allowed is not None else None,
        )


def question_id(patient_id: str, template: str, params: dict[str, Any]) -> str:
    """A stable id: the same patient, template and parameters give the same id in every run.

    That stability is what lets a resumed run skip finished questions and ``--compare``
    pair questions across runs.
    """
    payload = json.dumps([patient_id, template, params], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Question:
    """One replay question for one patient, with its answer computed from the record."""

    id: str
    patient_id: str
    category: str
    text: str
    expected: ExpectedAnswer
    expected_references: tuple[str, ...] = ()
    template: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "patient_id": self.patient_id,
            "category": self.category,
            "text": self.text,
            "template": self.template,
            "params": self.params,
            "expected": self.expected.to_json(),
            "expected_references": list(self.expected_references),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Question:
        return cls(
            id=str(data["id"]),
            patient_id=str(data["patient_id"]),
            category=str(data["category"]),
            text=str(data["text"]),
            expected=ExpectedAnswer.from_json(data["expected"]),
            expected_references=tuple(str(r) for r in data.get("expected_references") or ()),
            template=str(data.get("template", "")),
            params=dict(data.get("params") or {}),
        )


def make_question(
    patient_id: str,
    category: str,
    template: str,
    params: dict[str, Any],
    text: str,
    expected: ExpectedAnswer,
    references: Iterable[str],
) -> Question:
    """A question whose id derives from (patient, template, params), not from its wording."""
    return Question(
        id=question_id(patient_id, template, params),
        patient_id=patient_id,
        category=category,
        text=text,
        expected=expected,
        expected_references=tuple(references),
        template=template,
        params=params,
    )
