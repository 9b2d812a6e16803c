"""The typed reading of a question: the rules, the model's form and its checks, and the
plans made from a reading."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from agent.models.scripted import ScriptedModel
from agent.planner import plan_reading
from agent.reading import Concept, Reading, read_question
from agent.reading.decline import reading_numbers
from agent.reading.language import is_english
from agent.reading.model_reading import READING_SCHEMA, check_model_reading, read_with_model
from agent.reading.person import named_person, names_match, patient_names
from tools import validate_arguments

TODAY = date(2025, 6, 15)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What was his highest BP reading?", {"asks": "extreme", "extreme": "highest"}),
        ("lowest eGFR on record?", {"asks": "extreme", "extreme": "lowest"}),
        ("Compare the last two LDL values", {"asks": "compare", "last_n": 2}),
        ("last 3 A1c results", {"asks": "compare", "last_n": 3}),
        ("How many times was HbA1c above 7?", {"asks": "count"}),
        ("pt on any blood thinners?", {"asks": "yes_no"}),
        ("is she diabetic?", {"asks": "yes_no"}),
        ("When was her first encounter?", {"asks": "value", "ordinal": "first"}),
        ("What happened at the last visit?", {"asks": "timeline"}),
        ("Why is she on lisinopril?", {"asks": "why"}),
        ("reason for the visit on 2019-03-02?", {"asks": "why"}),
        ("How has her weight changed since 2020?", {"asks": "trend"}),
    ],
)
def test_what_is_asked(question: str, expected: dict[str, Any]) -> None:
    reading = read_question(question, TODAY)
    assert {key: getattr(reading, key) for key in expected} == expected


@pytest.mark.parametrize(
    ("question", "since", "until"),
    [
        ("visits this yr", "2025-01-01", "2025-12-31"),
        ("what vaccines did she get in 2016", "2016-01-01", "2016-12-31"),
        ("meds since 2020", "2020-01-01", None),
        ("encounters in the last 6 months", "2024-12-17", "2025-06-15"),
        ("encounters between 2018 and 2020", "2018-01-01", "2020-12-31"),
        ("why was he seen on 2019-03-02?", "2019-03-02", "2019-03-02"),
    ],
)
def test_every_form_of_period(question: str, since: str, until: str | None) -> None:
    period = read_question(question, TODAY).period
    assert period is not None and (period.since, period.until) == (since, until)


def test_threshold_and_period_are_not_read_as_concepts() -> None:
    reading = read_question("How many times was HbA1c above 7 in the last 2 years?", TODAY)
    assert reading.threshold is not None and reading.threshold.words == "above 7"
    assert reading.threshold.holds(7.1) and not reading.threshold.holds(7.0)
    assert [(c.family, c.name) for c in reading.concepts] == [("lab", "a1c")]
    assert reading.ordinal is None  # "the last 2 years" is a window, not "latest"
    below = read_question("how many eGFR results under 60?", TODAY).threshold
    assert below is not None and below.op == "<" and below.value == 60
    # The threshold, and the window's days and years an uncited "none then" may repeat.
    assert reading_numbers(reading) == ["7", "2023-06-15", "2023", "2025-06-15", "2025"]


def test_concepts_the_tools_do_not_know_are_left_for_the_record() -> None:
    blood_thinners = read_question("pt on any blood thinners?", TODAY)
    assert blood_thinners.concepts == [
        Concept(phrase="blood thinners", hint="medication", family=None)
    ]
    # A known name inside a longer phrase: the record's resolver reads the phrase.
    good = read_question("what's her good cholesterol like most recently", TODAY)
    assert good.concepts[0].family is None and good.concepts[0].hint == "lab"
    # "high blood pressure" in a yes/no question is the condition, not a reading.
    lay = read_question("does she have high blood pressure?", TODAY)
    assert lay.concepts[0].phrase == "high blood pressure" and lay.concepts[0].hint == "condition"


def test_other_languages_and_english_shorthand() -> None:
    for question in (
        "¿Cuál fue su última hemoglobina A1c?",
        "Quelle est sa dernière tension artérielle ?",
        "Hat der Patient Diabetes?",
        "Какой последний уровень глюкозы?",
        "患者の最新の血圧は?",
    ):
        assert not is_english(question), question
        assert read_question(question).language == "other"
    for question in ("hx of DM?", "A1c?", "is she on Plavix?", "What is the latest HbA1c?"):
        assert is_english(question), question


def test_a_named_person_is_compared_with_every_name_of_the_patient() -> None:
    assert named_person("What is Milton Ortiz's blood pressure?") == "Milton Ortiz"
    assert named_person("Does Milton Ortiz have diabetes?") == "Milton Ortiz"
    assert named_person("Is she on Plavix?") is None
    assert named_person("Does the patient have Diabetes Type 2?") is None
    patient = {"name": [{"use": "official", "given": ["Milton509"], "family": "Ortiz186"}]}
    assert patient_names(patient) == ["Milton Ortiz"]
    assert names_match("Milton Ortiz", patient_names(patient))
    assert not names_match("Edythe Morar", patient_names(patient))
    own = read_question("When was Milton Ortiz born?")
    assert own.person == "Milton Ortiz" and not own.concepts  # the name is not a concept


def test_reading_schema_compiles_to_a_llama_cpp_grammar() -> None:
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(READING_SCHEMA))
    llama_grammar.LlamaGrammar.from_string(gbnf, verbose=False)


def _form(**values: Any) -> dict[str, Any]:
    form = {
        "asks": "unknown",
        "concepts": [],
        "ordinal": "none",
        "extreme": "none",
        "last_n": 0,
        "threshold_op": "none",
        "threshold_value": "",
    }
    return {**form, **values}


def test_the_rules_keep_only_what_the_question_backs() -> None:
    question = "anything worrying in her sugar numbers above 200"
    rules = Reading(asks="unknown")
    form = _form(
        asks="count",
        concepts=["sugar numbers", "insulin pump"],
        threshold_op=">",
        threshold_value="250",
    )
    checked = check_model_reading(form, rules, question)
    assert checked.asks == "count"
    assert [c.phrase for c in checked.concepts] == ["sugar numbers"]  # invented one dropped
    assert checked.threshold is None  # 250 is not in the question
    stated = check_model_reading(_form(threshold_op=">", threshold_value="200"), rules, question)
    assert stated.threshold is not None and stated.threshold.value == 200
    # What the rules read wins over the form.
    ruled = read_question("highest BP?")
    assert check_model_reading(_form(extreme="lowest"), ruled, "highest BP?").extreme == "highest"


async def test_read_with_model_uses_the_grammar_and_falls_back_on_bad_output() -> None:
    question = "anything worrying in her sugar numbers"
    model = ScriptedModel([json.dumps(_form(asks="trend", concepts=["sugar numbers"]))])
    filled = await read_with_model(model, question, Reading())
    assert filled.error is None and filled.reading.asks == "trend"
    assert model.calls[0].json_schema == READING_SCHEMA
    broken = ScriptedModel([json.dumps({"asks": "everything"})])
    fallback = await read_with_model(broken, question, Reading())
    assert fallback.error and fallback.reading == Reading()


def _calls(question: str, **concept: Any) -> list[dict[str, Any]]:
    reading = read_question(question, TODAY)
    if concept:
        reading = reading.model_copy(update={"concepts": [Concept(**concept)]})
    calls = plan_reading(reading, question).calls
    for call in calls:
        validate_arguments(call["tool"], call["arguments"])
    return [dict(c) for c in calls]


def test_plans_by_kind() -> None:
    assert _calls("What was his highest BP reading?") == [
        {
            "tool": "vital_signs",
            "arguments": {"name": "blood pressure", "mode": "series", "limit": 50},
        }
    ]
    assert _calls("Compare the last two LDL values") == [
        {"tool": "lab_results", "arguments": {"name": "ldl", "mode": "series", "limit": 2}}
    ]
    assert _calls("How many times was HbA1c above 7 since 2020?") == [
        {
            "tool": "lab_results",
            "arguments": {"name": "a1c", "mode": "series", "limit": 50, "since": "2020-01-01"},
        }
    ]
    assert _calls("When was her first encounter?") == [
        {"tool": "encounters", "arguments": {"limit": 200}}
    ]
    assert _calls("What happened at the last visit?") == [
        {"tool": "encounters", "arguments": {"limit": 1}}
    ]
    assert _calls("why was he seen on 2019-03-02?") == [
        {
            "tool": "encounters",
            "arguments": {"limit": 200, "since": "2019-03-02", "until": "2019-03-02"},
        }
    ]


def test_the_period_is_never_dropped() -> None:
    # Every order of the window, stopped ones included.
    assert _calls("What was prescribed in 2019?") == [
        {
            "tool": "medications",
            "arguments": {
                "status": "all",
                "since": "2019-01-01",
                "until": "2019-12-31",
                "limit": 200,
            },
        }
    ]
    assert _calls("what vaccines did she get in 2016") == [
        {
            "tool": "immunizations",
            "arguments": {"since": "2016-01-01", "until": "2016-12-31", "limit": 200},
        }
    ]
    blood_thinners = _calls(
        "any blood thinners since 2020?",
        phrase="blood thinners",
        family="medication",
        found="found",
    )
    assert blood_thinners == [
        {
            "tool": "find_concept",
            "arguments": {"name": "blood thinners", "limit": 200, "since": "2020-01-01"},
        }
    ]


def test_an_unresolved_condition_searches_the_condition_list() -> None:
    calls = _calls("Does he have gout?", phrase="gout", hint="condition", found="not_understood")
    assert calls == [{"tool": "conditions", "arguments": {"status": "all", "limit": 200}}]


def test_declined_readings_retrieve_nothing() -> None:
    plan = plan_reading(read_question("Hat der Patient Diabetes?"), "Hat der Patient Diabetes?")
    assert plan.intent == "decline" and plan.calls == []
