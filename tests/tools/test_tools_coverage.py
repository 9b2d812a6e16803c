"""Who pays, dental visits, and a result found by its own LOINC code, on the fixtures.

Expectations are computed here from the bundle JSON: the payer names Synthea writes on
each Claim (``insurance[].coverage.display``), the "Primary insurance" answers of its
social needs survey (LOINC 76437-3), the encounters whose type or reason names dentistry,
and the survey scores under their LOINC code; never through the tools.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from fhir_client.embedded import embedded_client
from tests.support import agent_truth as truth
from tests.support.tools_datasets import Dataset, PatientRecord
from tools import make_toolset, run_tool
from tools.coverage import claim_payers, payer_of
from tools.dental import is_dental_visit, visit_kind_rule

DATASETS = ("fixtures",)
Resource = dict[str, Any]


def _payer(claim: Resource) -> str:
    """The test's own reading: the focal insurance's coverage display."""
    focal = [i for i in claim.get("insurance", []) if i.get("focal")] or claim["insurance"]
    return str(focal[0]["coverage"]["display"])


def _claim_payers(record: PatientRecord) -> Counter[str]:
    """Payer name -> how many claims name it."""
    return Counter(_payer(claim) for claim in record.of("Claim"))


def _claim_day(claim: Resource) -> str:
    return str(claim["billablePeriod"]["start"])[:10]


def _survey_answers(record: PatientRecord) -> list[tuple[str, str, str]]:
    """(day, answer, reference) of every "Primary insurance" survey answer."""
    found = []
    for observation in record.of("Observation"):
        for component in observation.get("component", []):
            if "76437-3" in truth.codes(component.get("code")):
                text = component["valueCodeableConcept"].get("text", "")
                found.append((truth.day(observation), text, truth.ref(observation)))
    return found


async def test_insurance_names_every_claim_payer_newest_first(dataset: Dataset) -> None:
    checked = 0
    async with embedded_client(dataset.store) as client:
        for record in dataset.patients:
            payers = _claim_payers(record)
            if not payers:
                continue
            checked += 1
            result = await run_tool(make_toolset(client, record.id), "insurance", {})
            lines = [e for e in result.evidence if e.label == "Payer"]
            assert len(lines) == len(payers), (record.id, result.items)
            newest = max(record.of("Claim"), key=_claim_day)
            assert _payer(newest) in lines[0].value.replace("none (NO_INSURANCE)", "NO_INSURANCE")
            claims = {truth.ref(c): c for c in record.of("Claim")}
            for line in lines:
                name = re.sub(r"^none \(NO_INSURANCE\)$", "NO_INSURANCE", line.value)
                assert f": {payers[name]} claim" in line.text, (line, payers)
                cited = claims[line.reference]  # a claim of this very payer, its newest
                assert _payer(cited) == name
                same = [c for c in record.of("Claim") if _payer(c) == name]
                assert _claim_day(cited) == max(_claim_day(c) for c in same)
            answers = _survey_answers(record)
            survey = [e for e in result.evidence if e.label == "Primary insurance"]
            if answers:
                day, text, _ = max(answers)
                assert survey and survey[0].date == day and text in survey[0].text, survey
            else:
                assert not survey
    assert checked >= 3


def test_payer_of_reads_the_focal_coverage_then_the_insurer() -> None:
    claim = {
        "resourceType": "Claim",
        "id": "c1",
        "created": "2020-01-02",
        "insurance": [
            {"sequence": 2, "focal": False, "coverage": {"display": "Secondary plan"}},
            {"sequence": 1, "focal": True, "coverage": {"display": "Medicaid"}},
        ],
    }
    assert payer_of(claim) == "Medicaid"
    eob = {"resourceType": "ExplanationOfBenefit", "id": "e1", "insurer": {"display": "Aetna"}}
    assert payer_of(eob) == "Aetna"
    assert payer_of({"resourceType": "Claim", "id": "c2"}) == ""
    lines = claim_payers([claim, eob, {"resourceType": "Claim", "id": "c2"}])
    assert [line.value for line in lines] == ["Medicaid", "Aetna"]  # dated first


async def test_no_payer_anywhere_is_said_as_what_was_read(dataset: Dataset) -> None:
    """A record whose claims name no payer is not called uninsured."""
    record = dataset.patients[0]
    async with embedded_client(dataset.store) as client:
        toolset = make_toolset(client, record.id)
        result = await run_tool(toolset, "insurance", {"since": "1800", "until": "1800"})
    assert not result.items
    assert result.notes[0].startswith("No claim or explanation of benefit, 1800, names a payer")
    assert "does not say who the insurer is" in result.notes[0]


def test_dental_visits_are_told_by_their_reason(dataset: Dataset) -> None:
    kinds = Counter()
    for record in dataset.patients:
        for encounter in record.of("Encounter"):
            assert is_dental_visit(encounter) == truth.dental_visit(encounter), encounter["id"]
            kinds[is_dental_visit(encounter)] += 1
            if is_dental_visit(encounter):
                assert visit_kind_rule("wellness", encounter) is False
                assert visit_kind_rule("dental", encounter) is True
            else:
                assert visit_kind_rule("wellness", encounter) is None
                assert visit_kind_rule("dentist", encounter) is False
    assert kinds[True] >= 10 and kinds[False] >= 100


async def test_a_result_is_found_by_a_loinc_code_no_table_lists(dataset: Dataset) -> None:
    """PRAPARE's own panel code (93025-5) is in no vocabulary: searched by code anyway."""
    record = next(r for r in dataset.patients if _survey_answers(r))
    panels = [o for o in record.of("Observation") if "93025-5" in truth.codes(o.get("code"))]
    async with embedded_client(dataset.store) as client:
        toolset = make_toolset(client, record.id)
        result = await run_tool(
            toolset, "lab_results", {"name": "93025-5", "mode": "series", "limit": 50}
        )
    assert {r for e in result.evidence for r in e.references} == {truth.ref(o) for o in panels}
    assert "LOINC 93025-5" in result.summary
