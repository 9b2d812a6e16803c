"""Ward shorthand, purpose phrasing, terse person names and languages in the reading.

Each case is the reading the rules make of a question typed the way clinicians type it
(the held-out free-form set measures the whole path; these pin the general causes).
"""

from __future__ import annotations

import pytest

from agent.reading.language import is_english
from agent.reading.person import named_person
from agent.reading.purpose import purpose_class
from agent.reading.rules import read_question
from agent.reading.shorthand import expand_shorthand
from tools.concepts.vocabularies import vocabularies


@pytest.mark.parametrize(
    ("typed", "plain"),
    [
        ("T2DM? y/n", "T2DM? yes or no"),
        ("h/o HTN?", "history of HTN?"),
        ("pt w/ AF?", "pt with AF?"),
        ("# of ED visits", "number of emergency visits"),
        ("does he have ED?", "does he have ED?"),
        ("1st visit?", "first visit?"),
        ("when was it first dx'd?", "when was it first diagnosed?"),
        ("on tacrolimus atm?", "on tacrolimus currently?"),
        ("pt on blood thinners rn?", "pt on blood thinners currently?"),
        ("anything i should know abt?", "anything i should know about?"),
        ("encounters since 2023 count", "how many encounters since 2023?"),
    ],
)
def test_shorthand_becomes_plain_words(typed: str, plain: str) -> None:
    assert expand_shorthand(typed) == plain


def test_shorthand_shapes_the_reading_and_leaves_no_debris_in_the_concept() -> None:
    reading = read_question("migraine? y/n")
    assert reading.asks == "yes_no" and [c.phrase for c in reading.concepts] == ["migraine"]
    count = read_question("# encounters 1993?")
    assert count.asks == "count" and count.families == ["encounter"]
    assert count.period is not None and count.period.since == "1993-01-01"
    assert read_question("1st visit?").ordinal == "first"
    assert [c.phrase for c in read_question("pt w/ AF?").concepts] == ["af"]
    assert read_question("last 2 eGFRs - trend?").asks == "compare"
    assert read_question("prev and current body height").asks == "compare"
    assert read_question("recap of last visit pls").asks == "timeline"
    assert read_question("indication for simvastatin?").asks == "why"


@pytest.mark.parametrize(
    "question", ["any allergies i should know abt?", "is she allergic to anything"]
)
def test_filler_words_name_no_concept(question: str) -> None:
    """A pronoun or modal verb around a family word is not searched as a coded name
    (it was: "no allergy i should know abt among all 527 coded entries")."""
    reading = read_question(question)
    assert reading.concepts == [] and reading.families == ["allergy"]


@pytest.mark.parametrize(
    ("question", "drug_class"),
    [
        ("meds for her sugar?", "antidiabetic"),
        ("what is he taking for his pressure?", "antihypertensive"),
        ("meds for HTN?", "antihypertensive"),
        ("anything for his cholesterol?", "statin"),
        ("what is she taking for her diabetes", "antidiabetic"),
        ("what is the metformin for?", None),
    ],
)
def test_purpose_phrasing_names_the_class_taken_for_it(
    question: str, drug_class: str | None
) -> None:
    assert purpose_class(question) == drug_class


def test_a_purpose_question_is_read_as_that_class_over_the_orders() -> None:
    reading = read_question("what is he taking for his pressure?")
    assert reading.asks == "yes_no" and reading.families == ["medication"]
    label = vocabularies().drug_classes["antihypertensive"].names[0]
    assert [c.phrase for c in reading.concepts] == [label]


def test_every_indication_names_a_class_and_the_file_records_its_source() -> None:
    vocab = vocabularies()
    assert vocab.indication_classes["sugar"] == "antidiabetic"
    assert set(vocab.indication_classes.values()) <= set(vocab.drug_classes)
    assert "ATC" in vocab.sources["drug_classes.toml"]


def test_lay_and_shorthand_lab_words_are_in_the_vocabularies() -> None:
    phrases = vocabularies().phrases
    assert phrases["kidney numbers"] == ("panel:kidney",)
    assert phrases["blood fats"] == ("panel:lipids",)
    assert phrases["salt level"] == ("sodium",)
    assert phrases["bg"] == ("glucose",)


@pytest.mark.parametrize(
    ("question", "person"),
    [
        ("Gregoria Douglas a1c?", "Gregoria Douglas"),
        ("Milton Ortiz - meds?", "Milton Ortiz"),
        ("Alethea Lubowitz's date of birth?", "Alethea Lubowitz"),
        ("Heart Rate?", None),
        ("Blood Pressure last", None),
        ("Chronic Kidney Disease?", None),
        ("Body Weight trend", None),
    ],
)
def test_a_name_opening_a_terse_question_is_a_person(question: str, person: str | None) -> None:
    assert named_person(question) == person


@pytest.mark.parametrize(
    "question",
    [
        "Jakie leki przyjmuje pacjent?",
        "Har patienten diabetes?",
        "Qual foi a última pressão arterial?",
        "Hastanın son kan şekeri nedir?",  # noqa: RUF001
    ],
)
def test_more_languages_are_declined(question: str) -> None:
    assert not is_english(question)


@pytest.mark.parametrize("question", ["hx MI?", "BG last", "any hx of MI?", "Na?"])
def test_shorthand_stays_english(question: str) -> None:
    assert is_english(question)


def test_a_concept_found_only_in_families_without_a_reading_family_does_not_crash() -> None:
    import asyncio
    from types import SimpleNamespace

    from agent.reading.resolution import resolve_reading

    match = SimpleNamespace(family="devices", role="code", name="Glucose monitor", codes=())
    resolution = SimpleNamespace(status="found", matches=[match], label="glucose monitor")

    class Resolver:
        async def resolve_concept(self, text: str) -> object:
            return resolution

    reading = asyncio.run(resolve_reading(read_question("glucose monitor?"), Resolver()))
    assert reading.concepts and reading.concepts[0].family is None
    assert reading.concepts[0].found == "found"
