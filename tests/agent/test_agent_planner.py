"""The rule-based planner's mapping and the grammar-friendly planning schema."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from agent.answering import build_answer_prompt
from agent.planner import PlanningError, parse_plan, plan_question, planning_schema
from agent.planner.periods import Period, find_period
from agent.planner.schema import validate_against_schema
from agent.state import AgentState, new_turn
from tools import DEFAULT_TOOLS, TOOLS, validate_arguments


@pytest.mark.parametrize(
    ("question", "tool", "arguments"),
    [
        ("What was the most recent HbA1c?", "lab_results", {"name": "a1c", "mode": "latest"}),
        ("What was her first LDL?", "lab_results", {"name": "ldl", "mode": "first"}),
        ("eGFR trend over time", "lab_results", {"name": "egfr", "mode": "series", "limit": 10}),
        ("latest weight", "vital_signs", {"name": "weight", "mode": "latest"}),
        ("When was the last flu shot?", "immunizations", {"vaccine": "flu", "limit": 3}),
        ("What medications is he taking?", "medications", {"status": "active"}),
        ("Any allergies?", "allergies", {"status": "active"}),
        ("When was the last visit?", "encounters", {"limit": 1}),
        ("What are the active problems?", "conditions", {"status": "active"}),
        ("How old is the patient?", "patient_overview", {}),
    ],
)
def test_single_fact_questions_map_to_one_confident_call(
    question: str, tool: str, arguments: dict[str, object]
) -> None:
    plan = plan_question(question)
    assert plan.confident and plan.calls == [{"tool": tool, "arguments": arguments}]
    validate_arguments(tool, arguments)  # the rules only produce valid calls


def test_open_questions_are_left_to_the_model() -> None:
    assert not plan_question("Is her diabetes well controlled?").confident
    assert plan_question("What is the weather?").intent == "unknown"


def test_follow_ups_resolve_against_the_previous_turn() -> None:
    previous = [{"tool": "lab_results", "arguments": {"name": "a1c", "mode": "latest"}}]
    before = plan_question("and before that?", previous, {"lab_results": "2024-03-01"})
    assert before.calls == [
        {
            "tool": "lab_results",
            "arguments": {"name": "a1c", "mode": "latest", "until": "2024-02-29"},
        }
    ]
    allergies = [{"tool": "allergies", "arguments": {"status": "active"}}]
    assert plan_question("which of those allergies are severe?", allergies).intent == "reuse"


def test_planning_schema_compiles_to_a_llama_cpp_grammar() -> None:
    llama_grammar = pytest.importorskip("llama_cpp.llama_grammar")
    gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(planning_schema(DEFAULT_TOOLS)))
    llama_grammar.LlamaGrammar.from_string(gbnf, verbose=False)
    assert "\\d" not in gbnf  # the converter would emit \d literally


def test_planning_schema_has_no_unbounded_strings_or_integers() -> None:
    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "string":
                assert "enum" in node or ("pattern" in node and "maxLength" in node), node
            if node.get("type") == "integer":
                assert "enum" in node, node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(planning_schema(DEFAULT_TOOLS))


def test_parse_plan_accepts_calls_and_answer_and_rejects_the_rest() -> None:
    schema = planning_schema(DEFAULT_TOOLS)
    call = parse_plan('{"action": "lab_results", "arguments": {"name": "LDL", "limit": 5}}', schema)
    assert call == {"tool": "lab_results", "arguments": {"name": "LDL", "limit": 5}}
    assert parse_plan('{"action": "answer"}', schema) is None
    for bad in (
        "not json",
        '{"action": "billing", "arguments": {}}',  # not offered by default
        '{"action": "lab_results", "arguments": {}}',  # name is required
        '{"action": "lab_results", "arguments": {"name": "x", "limit": 7}}',
        '{"action": "lab_results", "arguments": {"name": "x", "since": "2024-1"}}',
        '{"action": "answer", "arguments": {}}',
    ):
        with pytest.raises(PlanningError):
            parse_plan(bad, schema)


def test_every_offered_tool_has_a_valid_minimal_call() -> None:
    schema = planning_schema(DEFAULT_TOOLS)
    for name in DEFAULT_TOOLS:
        required = TOOLS[name].parameters.get("required", [])
        arguments = {key: "HbA1c" for key in required}
        if name == "vital_signs":
            arguments = {"name": "weight"}
        validate_against_schema({"action": name, "arguments": arguments}, schema)


def _state(lines: int) -> AgentState:
    items = [
        {
            "reference": f"Observation/{i}",
            "text": f"2024-01-{i % 28 + 1:02d} Lab {i} {i}.5 mg",
            "date": "2024-01-01",
            "kind": "lab",
            "label": f"Lab {i}",
            "value": f"{i}.5 mg",
        }
        for i in range(lines)
    ]
    result = {
        "tool": "lab_results",
        "summary": "labs",
        "items": items,
        "truncated": False,
        "total_available": None,
        "notes": [],
    }
    return {
        "question": "Labs?",
        "turn": 1,
        "aliases": [f"Observation/{i}" for i in range(lines)],
        "current": {
            **new_turn(),
            "steps": [
                {
                    "node": "act",
                    "tool": "lab_results",
                    "arguments": {},
                    "count": lines,
                    "source": "rules",
                    "error": None,
                    "result": result,
                }
            ],
        },
    }


def test_answer_prompt_is_trimmed_whole_lines_to_fit_the_context() -> None:
    def count(text: str) -> int:
        return len(text.split())

    roomy = build_answer_prompt(
        _state(200), count_tokens=count, context_window=8192, max_tokens=256
    )
    tight = build_answer_prompt(_state(200), count_tokens=count, context_window=600, max_tokens=256)
    assert roomy.lines_kept == 200 and roomy.lines_dropped == 0
    assert 0 < tight.lines_kept < 200 and tight.lines_kept + tight.lines_dropped == 200
    assert count(tight.system) + count(tight.user) + 256 <= 600
    # Whole lines only: every kept line ends with its citation, the best-ranked first.
    kept = tight.user.split("Evidence:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert kept[0].endswith("[1]") and all(line.endswith("]") for line in kept)


@pytest.mark.parametrize(
    ("question", "arguments"),
    [
        (
            "How many encounters did the patient have in 2023?",
            {"since": "2023-01-01", "until": "2023-12-31", "limit": 200},
        ),
        (
            "How many emergency visits since March 2021?",
            {"encounter_type": "emergency", "since": "2021-03-01", "limit": 200},
        ),
        (
            "How many visits between 2019 and 2021?",
            {"since": "2019-01-01", "until": "2021-12-31", "limit": 200},
        ),
    ],
)
def test_count_questions_fetch_the_whole_window(
    question: str, arguments: dict[str, object]
) -> None:
    plan = plan_question(question)
    assert plan.confident and plan.calls == [{"tool": "encounters", "arguments": arguments}]
    validate_arguments("encounters", arguments)


def test_relative_periods_are_whole_days_and_do_not_mean_latest() -> None:
    today = date(2025, 6, 15)
    period = find_period("How many procedures in the last 2 years?", today)
    assert period and (period.since, period.until) == ("2023-06-15", "2025-06-15")
    assert find_period("visits last year", today) == Period(
        "2024-01-01", "2024-12-31", "in 2024", (7, 16)
    )
    month = find_period("labs in Feb 2024", today)
    assert month and (month.since, month.until, month.phrase) == (
        "2024-02-01",
        "2024-02-29",
        "in February 2024",
    )
    day = find_period("HbA1c on 2024-02-01")  # one day: that day's results
    assert day and (day.since, day.until, day.phrase) == (
        "2024-02-01",
        "2024-02-01",
        "on 2024-02-01",
    )
    (call,) = plan_question("How many HbA1c results in the last 3 years?").calls
    assert call["arguments"]["mode"] == "series" and call["arguments"]["limit"] == 50


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("When was lisinopril 10 MG Oral Tablet first prescribed?", "lisinopril 10 MG Oral Tablet"),
        ("When did she start taking metformin?", "metformin"),
        ("When was the patient first started on insulin?", "insulin"),
    ],
)
def test_first_prescribed_maps_to_the_first_order(question: str, name: str) -> None:
    plan = plan_question(question)
    assert plan.calls == [{"tool": "medications", "arguments": {"name": name, "mode": "first"}}]
    assert plan.confident


def test_vaccine_history_asks_for_every_vaccine() -> None:
    assert plan_question("Which vaccines has the patient received?").calls == [
        {"tool": "immunizations", "arguments": {}}
    ]


def test_the_grammar_writes_only_real_dates_and_bounded_thresholds() -> None:
    schema = planning_schema(DEFAULT_TOOLS)
    labs = next(o for o in schema["oneOf"] if o["properties"]["action"]["const"] == "lab_results")
    arguments = labs["properties"]["arguments"]["properties"]
    since = arguments["since"]["pattern"]
    for good in ("2024", "1999-12", "2024-02-29", "2031-10-31"):
        assert re.match(since, good), good
    for bad in ("2024-00", "2024-13", "2024-01-00", "2024-01-32", "0024", "2024-1"):
        assert not re.match(since, bad), bad  # "[0-9]{2}" admitted these
    above = arguments["above"]
    assert above["type"] == "string" and not re.match(above["pattern"], "1e9999")
    call = parse_plan(
        '{"action": "lab_results", "arguments": {"name": "HbA1c", "above": "7.5"}}', schema
    )
    assert call == {"tool": "lab_results", "arguments": {"name": "HbA1c", "above": 7.5}}
    # The largest threshold the grammar admits is inside the tool's own bounds.
    assert parse_plan(
        '{"action": "lab_results", "arguments": {"name": "x", "below": "-99999.99"}}', schema
    )
