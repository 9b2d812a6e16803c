"""What every free-form question module shares: the patient, a seeded phrasing choice.

Phrasing is drawn from several clinician-style wordings per question with a random
generator seeded by the patient id, so every patient gets different words, and a rerun
gets the same ones (stable question ids for resuming and ``--compare``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from agent.replay.model import ExpectedAnswer, Question, make_question
from agent.replay.record import PatientRecord

__all__ = ["KINDS", "Asker"]

KINDS = (
    "paraphrase",
    "yes_no",
    "time_scoped",
    "compare",
    "extreme",
    "threshold",
    "first",
    "last_visit",
    "reasoning",
    "wrong_person",
    "other_language",
    "drug_class",
    "lay_terms",
    "abbreviations",
)


@dataclass
class Asker:
    """Writes questions about one patient in varied wording."""

    record: PatientRecord
    today: date
    other_people: list[str]
    own_name: str
    rng: random.Random = field(init=False)
    questions: list[Question] = field(default_factory=list)
    record_text: str = ""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.record.id)
        female = self.record.patient.get("gender") == "female"
        self.pronoun = "she" if female else "he"
        self.possessive = "her" if female else "his"

    def pick(self, wordings: list[str] | tuple[str, ...], **values: Any) -> tuple[int, str]:
        """One wording (its index, for the id) filled with the patient's pronouns."""
        index = self.rng.randrange(len(wordings))
        text = wordings[index].format(pronoun=self.pronoun, poss=self.possessive, **values)
        return index, text

    def ask(
        self,
        kind: str,
        template: str,
        params: dict[str, Any],
        text: str,
        expected: ExpectedAnswer,
        references: list[str] | tuple[str, ...] = (),
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown free-form kind {kind!r}")
        question = make_question(
            self.record.id, kind, f"freeform.{kind}.{template}", params, text, expected, references
        )
        self.questions.append(question)
