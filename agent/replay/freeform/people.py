"""Questions the rule path must decline: another person named, or another language.

"What is Milton Ortiz's blood pressure?" asked in a thread bound to someone else must be
refused, saying the names differ; answering it would report another person's data as
Milton's.  A control question names the bound patient, which must be answered.  Other
languages get an honest "not understood", never a guess.
"""

from __future__ import annotations

from agent.replay.freeform.base import Asker
from agent.replay.model import ExpectedAnswer
from agent.replay.record import reference

__all__ = ["people_questions"]

_OTHER = (
    "What is {name}'s blood pressure?",
    "Does {name} have diabetes?",
    "{name}'s latest A1c?",
    "show me {name}'s medications",
    "when did {name} last see us?",
)
_OWN = ("When was {name} born?", "{name}'s date of birth?", "what is {name}'s DOB")
_LANGUAGES = (
    "¿Cuál fue su última hemoglobina A1c?",
    "Quelle est sa dernière tension artérielle ?",
    "Wie hoch war der letzte Blutdruck des Patienten?",
    "Qual è l'ultimo valore di colesterolo?",
    "Welke medicijnen gebruikt de patiënt op dit moment?",
    "Quais são as alergias do paciente?",
    "患者の最新の血圧は?",
    "Какой последний уровень глюкозы?",
    "Hat der Patient Diabetes?",
    "¿Qué vacunas recibió en 2019?",
)
# Names used when a run has no other patient to borrow one from.
_STRANGERS = ("Milton Ortiz", "Edythe Morar", "Beatris Bogan", "Joe Keeling")


def people_questions(asker: Asker) -> None:
    rng = asker.rng
    others = [n for n in asker.other_people or _STRANGERS if n and n != asker.own_name]
    if others:
        other = rng.choice(sorted(others))
        index, text = asker.pick(_OTHER, name=other)
        asker.ask(
            "wrong_person",
            f"other.{index}",
            {"name": other},
            text,
            ExpectedAnswer("refusal", value=f"person:{other}"),
        )
    birth = asker.record.patient.get("birthDate")
    if asker.own_name and isinstance(birth, str) and len(birth) >= 10 and rng.random() < 0.5:
        index, text = asker.pick(_OWN, name=asker.own_name)
        asker.ask(
            "wrong_person",
            f"own.{index}",
            {},
            text,
            ExpectedAnswer("date", date=birth[:10]),
            [reference(asker.record.patient)],
        )
    index = rng.randrange(len(_LANGUAGES))
    asker.ask(
        "other_language",
        f"language.{index}",
        {},
        _LANGUAGES[index],
        ExpectedAnswer("refusal", value="language"),
    )
