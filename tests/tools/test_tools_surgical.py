"""``procedures(kind="surgical")``: only procedures whose names look like operations, with a
note that counts what was kept and what was left out.

The rule (:mod:`tools.surgical`) is checked two ways: on names written here (general
surgical and non-surgical wording, none of them copied from the fixtures), and on every
fixture patient through the real tool, where the test's own simpler rules, read from the
bundle JSON, say what must be kept ("-ectomy", "biopsy") and what must never be
("assessment", "screening"), and the note's counts must add up to the bundle's.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fhir_client.embedded import embedded_client
from tests.support.tools_datasets import Dataset, PatientRecord
from tools import make_toolset, run_tool
from tools.schemas import TOOL_SCHEMAS
from tools.surgical import looks_surgical, surgical_note

Resource = dict[str, Any]
DATASETS = ("fixtures",)


def _procedure(name: str) -> Resource:
    return {"resourceType": "Procedure", "id": "x", "code": {"coding": [{"display": name}]}}


@pytest.mark.parametrize(
    "name",
    [
        "Appendectomy",
        "Laparoscopic cholecystectomy (procedure)",
        "Tracheostomy",
        "Craniotomy",
        "Total knee arthroplasty",
        "Repair of inguinal hernia",
        "Excision of lesion of skin",
        "Resection of colon",
        "Colonoscopy with biopsy",
        "Insertion of cardiac pacemaker",
        "Coronary artery bypass graft",
        "Kidney transplant",
        "Amputation of toe",
        "Open reduction and internal fixation of fracture",
        "Caesarean section",
        "Surgical removal of wisdom tooth",
        "Suture of laceration",
    ],
)
def test_operative_names_look_surgical(name: str) -> None:
    assert looks_surgical(_procedure(name)), name


@pytest.mark.parametrize(
    "name",
    [
        "Colonoscopy",
        "Assessment of surgical risk",
        "Referral to general surgery service",
        "Screening for colon cancer",
        "Postoperative care",
        "Surgical counselling",
        "Physical therapy",
        "Removal of dental plaque",
        "Influenza vaccination",
        "Electrocardiogram",
        "Anatomy scan",
        "Shared decision making",
        "Hormone replacement therapy",
    ],
)
def test_other_names_do_not(name: str) -> None:
    assert not looks_surgical(_procedure(name)), name


def test_the_note_never_says_there_was_no_surgery() -> None:
    others = [_procedure("Depression screening"), _procedure("Assessment of anxiety")]
    note = surgical_note([], others, ", 2019")
    assert note.startswith("No procedure in the record (2019) looks surgical by its name")
    assert "2 procedures were recorded" in note
    assert not re.search(r"(?i)no surger|never had|not had", note)
    kept = surgical_note([_procedure("Appendectomy")], others)
    assert kept.startswith("1 of the 3 procedures recorded looks surgical by its name"), kept
    assert "the other 2 (screenings, assessments) are left out" in kept or (
        "the other 2 (assessments, screenings) are left out" in kept
    ), kept


def test_the_restriction_is_one_declared_parameter() -> None:
    """A model sees it in the procedures tool's schema, as every argument is declared."""
    schema = TOOL_SCHEMAS["procedures"]["properties"]
    assert schema["kind"]["enum"] == ["all", "surgical"] and schema["kind"]["default"] == "all"


# ------------------------------------------------------------------ on the fixtures


@pytest.fixture
async def client(dataset: Dataset) -> AsyncIterator[Any]:
    async with embedded_client(dataset.store) as fhir:
        yield fhir


def _names(resource: Resource) -> str:
    concept = resource.get("code") or {}
    parts = [concept.get("text") or ""] + [c.get("display", "") for c in concept.get("coding", [])]
    return " ".join(parts).lower()


def _ref(resource: Resource) -> str:
    return f"Procedure/{resource['id']}"


def _must_keep(record: PatientRecord) -> set[str]:
    return {
        _ref(p)
        for p in record.of("Procedure")
        if re.search(r"ectomy\b|\bbiopsy\b", _names(p)) and "care" not in _names(p)
    }


def _must_leave(record: PatientRecord) -> set[str]:
    return {
        _ref(p) for p in record.of("Procedure") if re.search(r"assessment|screening", _names(p))
    }


async def test_surgical_procedures_on_every_fixture_patient(client: Any, dataset: Dataset) -> None:
    kept_somewhere = False
    for record in dataset.patients:
        procedures = record.of("Procedure")
        result = await make_toolset(client, record.id).procedures(kind="surgical", limit=200)
        listed = set(result.references)
        assert listed <= {_ref(p) for p in procedures}
        assert _must_keep(record) <= listed, record.id
        assert not listed & _must_leave(record), record.id
        assert result.total_available == len(listed)
        (note,) = result.notes
        if listed:
            kept_somewhere = True
            assert note.startswith(f"{len(listed)} of the {len(procedures)} procedures"), note
            assert f"the other {len(procedures) - len(listed)} (" in note, note
        else:
            assert note == (
                "No procedure in the record looks surgical by its name (words such as "
                "-ectomy, -otomy, -plasty, biopsy, repair, excision, insertion, removal); "
                f"{len(procedures)} procedures were recorded."
            )
    assert kept_somewhere


async def test_unrestricted_procedures_are_unchanged_and_a_window_is_said(
    client: Any, dataset: Dataset
) -> None:
    record = max(dataset.patients, key=lambda r: len(_must_keep(r)))
    every = await make_toolset(client, record.id).procedures(limit=200)
    assert set(every.references) == {_ref(p) for p in record.of("Procedure")}
    assert not every.notes
    year = min(
        str(p.get("performedPeriod", {}).get("start") or p.get("performedDateTime"))[:4]
        for p in record.of("Procedure")
        if _ref(p) in _must_keep(record)
    )
    windowed = await run_tool(
        make_toolset(client, record.id),
        "procedures",
        {"kind": "surgical", "since": year, "until": year, "limit": 200},
    )
    assert f"recorded ({year})" in windowed.notes[0], windowed.notes
    assert windowed.references and all(
        e.date and e.date.startswith(year) for e in windowed.evidence
    )
