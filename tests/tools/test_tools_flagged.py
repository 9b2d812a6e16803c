"""'Any abnormal labs?' answered from the record's own flags, on a real Synthea record.

Synthea writes no interpretation and no reference range, so the test marks three of a
fixture patient's laboratory results through the FHIR facade (one ``H``, one outside its
own reference range, one ``N``) and checks that exactly the two out-of-range ones are
listed, that the counts said are the record's, and that the results the record gives no
range for are named as unjudged rather than called normal.  Expectations are computed
from the bundle JSON here, never through the tools.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent.planner.rules import plan_question
from agent.reading import read_question
from fhir_client import FhirClient
from fhir_client.embedded import embedded_client
from tests.support import agent_truth as truth
from tests.support.agent_ask import ask_agent
from tests.support.tools_datasets import Dataset, PatientRecord
from tools import make_toolset, run_tool
from tools.result_flags import judge

DATASETS = ("fixtures",)
Resource = dict[str, Any]
_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def _labs(record: PatientRecord) -> list[Resource]:
    def is_lab(resource: Resource) -> bool:
        categories = resource.get("category") or []
        codes = {c.get("code") for cat in categories for c in cat.get("coding") or []}
        return "laboratory" in codes

    labs = [r for r in record.of("Observation") if is_lab(r)]
    return sorted(labs, key=lambda r: str(r.get("effectiveDateTime", "")), reverse=True)


def _numeric(labs: list[Resource]) -> list[Resource]:
    return [r for r in labs if isinstance((r.get("valueQuantity") or {}).get("value"), float)]


def _interpreted(resource: Resource, code: str) -> Resource:
    marked = copy.deepcopy(resource)
    marked["interpretation"] = [{"coding": [{"system": _INTERPRETATION, "code": code}]}]
    return marked


def _ranged_below(resource: Resource) -> Resource:
    """The value lies above a reference range that ends below it."""
    marked = copy.deepcopy(resource)
    value = marked["valueQuantity"]["value"]
    marked["referenceRange"] = [{"low": {"value": 0}, "high": {"value": value / 2}}]
    return marked


@pytest.fixture
async def marked(dataset: Dataset) -> AsyncIterator[tuple[Any, PatientRecord, list[Resource]]]:
    """A copy of the store with three of the most-tested patient's labs marked: the
    client, the patient, and the marked resources (H, outside range, N)."""
    record = max(dataset.patients, key=lambda r: len(_numeric(_labs(r))))
    numeric = _numeric(_labs(record))
    assert len(numeric) >= 3, "the fixtures have a patient with numeric labs"
    changed = [_interpreted(numeric[0], "H"), _ranged_below(numeric[1])]
    changed.append(_interpreted(numeric[2], "N"))
    async with embedded_client(dataset.store) as client:
        originals = [await client.read("Observation", r["id"]) for r in changed]
        for resource in changed:
            await client.update(resource)
        try:
            yield client, record, changed
        finally:
            for original in originals:
                await client.update(original)


async def test_the_tool_lists_only_what_the_record_flags(
    marked: tuple[Any, PatientRecord, list[Resource]],
) -> None:
    client, record, changed = marked
    labs = _labs(record)
    result = await run_tool(make_toolset(client, record.id), "flagged_results", {})
    assert set(result.references) == {truth.ref(changed[0]), truth.ref(changed[1])}
    assert result.total_available == 2
    looked, unjudged = len(labs), len(labs) - 2 - 1  # the two flagged and the N are judged
    assert result.notes[0] == (
        f"2 of the {looked} laboratory results are flagged out of range by the record."
    )
    assert result.notes[1].startswith(f"{unjudged} of them carry no interpretation")
    ranged = next(e for e in result.evidence if e.reference == truth.ref(changed[1]))
    assert "H (ref 0-" in ranged.text  # the range it falls outside is shown


async def test_a_window_without_flags_says_none_of_those_looked_at(
    marked: tuple[Any, PatientRecord, list[Resource]],
) -> None:
    client, record, changed = marked
    flagged_days = {str(r["effectiveDateTime"])[:10] for r in changed[:2]}
    days = sorted({str(r["effectiveDateTime"])[:10] for r in _labs(record)} - flagged_days)
    day = days[0]
    in_window = [r for r in _labs(record) if str(r["effectiveDateTime"])[:10] == day]
    result = await run_tool(
        make_toolset(client, record.id), "flagged_results", {"since": day, "until": day}
    )
    assert result.references == []
    assert result.notes[0].startswith(f"None of the {len(in_window)} laboratory results ({day})")


@pytest.mark.parametrize(
    "question",
    [
        "any abnormal labs recently?",
        "were any of her results out of range?",
        "labs flagged high?",
        "is her bloodwork ok?",
        "anything off in her labs?",
        "which tests came back abnormal",
    ],
)
def test_questions_about_flags_plan_the_flag_report(question: str) -> None:
    assert read_question(question).flagged
    plan = plan_question(question)
    assert [c["tool"] for c in plan.calls] == ["flagged_results"], plan
    assert plan.calls[0]["arguments"].get("category") == "laboratory"


@pytest.mark.parametrize(
    "question",
    [
        "what is her latest a1c",
        "high bp readings?",
        "any high blood pressure",
        "how many lab results in 2020",
        "results of her last colonoscopy",
    ],
)
def test_a_named_test_or_a_lay_disorder_is_not_a_flag_question(question: str) -> None:
    assert all(c["tool"] != "flagged_results" for c in plan_question(question).calls)


def test_vitals_are_their_own_category() -> None:
    plan = plan_question("abnormal vitals?")
    assert plan.calls == [{"tool": "flagged_results", "arguments": {"category": "vital-signs"}}]


def test_the_judgement_is_the_records_word() -> None:
    base: Resource = {"resourceType": "Observation", "valueQuantity": {"value": 5.0}}
    assert judge(base).judgeable is False
    assert judge(_interpreted(base, "N")) == judge(_interpreted(base, "NEG"))
    assert judge(_interpreted(base, "N")).flagged is False
    assert judge(_interpreted(base, "LL")).flagged is True
    inside = {**base, "referenceRange": [{"low": {"value": 1}, "high": {"value": 9}}]}
    assert (judge(inside).flagged, judge(inside).judgeable) == (False, True)
    assert judge(_ranged_below(base)).flagged is True


async def test_ask_end_to_end_cites_both_and_claims_no_normal(
    marked: tuple[Any, PatientRecord, list[Resource]],
) -> None:
    client, record, changed = marked
    output = await ask_agent(client, record, "any abnormal labs?")
    answer = str(output.answer)
    assert set(truth.cited(answer)) == {truth.ref(changed[0]), truth.ref(changed[1])}, answer
    assert answer.startswith("2 of the "), answer
    assert "does not say whether they are in range" in answer
    assert "normal" not in answer.lower().replace("abnormal", "")
    assert all(c.verified for c in output.citations), output.citations


async def test_a_record_without_ranges_is_not_called_normal(
    dataset: Dataset, fhir: FhirClient
) -> None:
    """Synthea gives no interpretation or range: the answer says so and judges nothing."""
    record = min((r for r in dataset.patients if _labs(r)), key=lambda r: len(_labs(r)))
    output = await ask_agent(fhir, record, "is her bloodwork ok?")
    answer = str(output.answer)
    assert answer.startswith(
        f"None of the {len(_labs(record))} laboratory results carries an interpretation"
    ), answer
    assert not truth.cited(answer)
