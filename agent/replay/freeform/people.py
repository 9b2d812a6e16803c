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
    ask_people(asker, _OTHER, _OWN, _LANGUAGES, strangers=_STRANGERS, own_chance=0.5)


def ask_people(
    asker: Asker,
    other_wordings: tuple[str, ...],
    own_wordings: tuple[str, ...],
    languages: tuple[str, ...],
    *,
    prefix: str = "",
    strangers: tuple[str, ...] = (),
    own_chance: float | None = None,
) -> None:
    """Another person named (declined), the patient named (answered: asked with
    ``own_chance``, always when None), and a question in another language (declined)."""
    rng = asker.rng
    others = [n for n in asker.other_people or strangers if n and n != asker.own_name]
    if others:
        other = rng.choice(sorted(others))
        index, text = asker.pick(other_wordings, name=other)
        asker.ask(
            "wrong_person",
            f"{prefix}other.{index}",
            {"name": other},
            text,
            ExpectedAnswer("refusal", value=f"person:{other}"),
        )
    birth = asker.record.patient.get("birthDate")
    if (
        asker.own_name
        and isinstance(birth, str)
        and len(birth) >= 10
        and (own_chance is None or rng.random() < own_chance)
    ):
        index, text = asker.pick(own_wordings, name=asker.own_name)
        asker.ask(
            "wrong_person",
            f"{prefix}own.{index}",
            {},
            text,
            ExpectedAnswer("date", date=birth[:10]),
            [reference(asker.record.patient)],
        )
    index = rng.randrange(len(languages))
    asker.ask(
        "other_language",
        f"{prefix}language.{index}",
        {},
        languages[index],
        ExpectedAnswer("refusal", value="language"),
    )
