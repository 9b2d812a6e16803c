"""The summary reads like a chart overview: checked on real Synthea records.

Social findings (employment, education, stress, ...) sit in their own section and never
among the problems; no line doubles a word ("Allergy Allergy to substance"); a value
outside the reference range the record gives is marked; two results of one test on the
same day that disagree are shown together.  Truths come from the bundle JSON; the range
and the conflict are written into the real embedded store through the FHIR API, since
the Synthea sets carry neither.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest

from agent.summary import patient_summary
from fhir_client.embedded import embedded_client
from tests.support.tools_datasets import Dataset, PatientRecord, load_dataset
from tools import make_toolset

Resource = dict[str, Any]
# The test's own reading of Synthea's social findings (SDOH module displays).
SOCIAL_WORDS = (
    "employment", "education", "school", "labor force", "stress", "social", "housing",
    "transport", "violence", "abuse", "criminal", "misuses drugs", "alcohol", "armed forces",
    "risk activity", "unemployed",
)  # fmt: skip


DATASETS = ("fixtures", "spezi")
"""The Synthea sets the ``dataset`` fixture (tests/conftest.py) loads, one run each."""


def ref(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def display(resource: Resource) -> str:
    code = resource.get("code") or {}
    return str(code.get("text") or (code.get("coding") or [{}])[0].get("display") or "")


def active(condition: Resource) -> bool:
    status = (condition.get("clinicalStatus") or {}).get("coding") or [{}]
    return status[0].get("code") == "active"


def social(condition: Resource) -> bool:
    text = display(condition).lower()
    return text.endswith("(finding)") and any(w in text for w in SOCIAL_WORDS)


def section(summary: Any, title: str) -> set[str]:
    found = next(s for s in summary.sections if s.title == title)
    return {r for item in found.items for r in item.references}


async def test_social_findings_have_their_own_section(dataset: Dataset, fhir: Any) -> None:
    seen = 0
    for patient in dataset.patients[:5]:
        summary = await patient_summary(make_toolset(fhir, patient.id), max_tokens=20_000)
        conditions = [c for c in patient.of("Condition") if active(c)]
        social_refs = {ref(c) for c in conditions if social(c)}
        problems = section(summary, "Problems")
        assert not problems & social_refs, patient.id
        assert {ref(c) for c in conditions if not social(c)} <= problems
        shown = section(summary, "Social history")
        assert shown <= social_refs
        assert len(shown) == min(6, len({display(c) for c in conditions if social(c)}))
        seen += len(shown)
    assert seen, "the records hold social findings"


async def test_no_line_doubles_a_word(dataset: Dataset, fhir: Any) -> None:
    for patient in dataset.patients[:5]:
        summary = await patient_summary(make_toolset(fhir, patient.id), max_tokens=20_000)
        for item in (i for s in summary.sections for i in s.items):
            text = re.sub(r"\[[^\]]*\]", "", item.text)
            doubled = re.search(r"\b([A-Za-z]{3,}) \1\b", text, re.IGNORECASE)
            assert doubled is None, item.text


def newest_key_lab(patient: PatientRecord) -> Resource | None:
    """The newest HbA1c/LDL/eGFR/creatinine/potassium/hemoglobin with a numeric value."""
    key = {"4548-4", "18262-6", "13457-7", "2089-1", "33914-3", "62238-1", "2160-0", "38483-4"}
    key |= {"6298-4", "2823-3", "718-7"}
    labs = [
        o
        for o in patient.of("Observation")
        if "valueQuantity" in o
        and key & {c.get("code") for c in (o.get("code") or {}).get("coding") or []}
    ]
    return max(labs, key=lambda o: o["effectiveDateTime"], default=None)


@pytest.fixture
def fresh_spezi() -> Iterator[Dataset]:
    """A store of its own: this test writes into it."""
    loaded = load_dataset("spezi")
    yield loaded
    loaded.store.close()


async def test_out_of_range_and_same_day_conflicts_are_marked(fresh_spezi: Dataset) -> None:
    loaded = fresh_spezi
    patient = next(p for p in loaded.patients if newest_key_lab(p) is not None)
    lab = newest_key_lab(patient)
    assert lab is not None
    value = float(lab["valueQuantity"]["value"])
    ranged = copy.deepcopy(lab)
    ranged["referenceRange"] = [{"low": {"value": 0}, "high": {"value": value / 2}}]
    twin = copy.deepcopy(lab)
    twin["id"] = lab["id"][:-4] + "beef"
    twin["valueQuantity"]["value"] = round(value * 3 + 1, 1)
    async with embedded_client(loaded.store) as client:
        await client.update(ranged)
        await client.update(twin)
        summary = await patient_summary(make_toolset(client, patient.id), max_tokens=20_000)
    line = next(i.text for s in summary.sections for i in s.items if ref(lab) in i.references)
    day = lab["effectiveDateTime"][:10]
    assert f"outside reference range: {day} H (ref 0-" in line
    assert "conflicting same-day results" in line and day in line
    assert ref(twin) in line
