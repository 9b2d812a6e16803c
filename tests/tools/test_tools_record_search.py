"""The record-wide ranked search (FTS5, BM25) on real Synthea records.

Truths come from the bundle JSON: a word taken from a resource's own display must find
that resource; a word no resource holds finds nothing and says what was searched; a
window keeps only resources dated inside it; FTS syntax typed by a user is inert.
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.tools_datasets import Dataset
from tools import make_toolset, run_tool

Resource = dict[str, Any]


DATASETS = ("fixtures", "hiv")
"""The Synthea sets the ``dataset`` fixture (tests/conftest.py) loads, one run each."""


def ref(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def display(resource: Resource, field: str) -> str:
    concept = resource.get(field) or {}
    codings = concept.get("coding") or [{}]
    return str(concept.get("text") or codings[0].get("display") or "")


async def test_a_word_of_a_condition_finds_it(dataset: Dataset, fhir: Any) -> None:
    checked = 0
    for patient in dataset.patients[:4]:
        toolset = make_toolset(fhir, patient.id)
        owned = {ref(r) for rs in patient.by_type.values() for r in rs}
        for condition in patient.of("Condition")[:3]:
            words = [w for w in re.findall(r"[A-Za-z]{6,}", display(condition, "code"))]
            if not words:
                continue
            word = max(words, key=len)
            result = await run_tool(toolset, "search_record", {"name": word, "limit": 50})
            assert result.total_available and result.total_available >= 1
            refs = set(result.references)
            assert refs <= owned, "only the bound patient's resources"
            with_word = [
                r for r in patient.of("Condition") if word.lower() in display(r, "code").lower()
            ]
            if result.total_available <= 50:
                assert ref(condition) in refs, (patient.id, word)
            assert with_word
            checked += 1
    assert checked


async def test_nothing_found_says_what_was_searched(dataset: Dataset, fhir: Any) -> None:
    patient = dataset.patients[0]
    toolset = make_toolset(fhir, patient.id)
    result = await run_tool(toolset, "search_record", {"name": "xyzzyplugh"})
    assert not result.items
    searched = (await toolset.record_search()).indexed
    assert searched > 0
    assert f"record's {searched} searchable resources" in result.render()


async def test_fts_syntax_is_inert(dataset: Dataset, fhir: Any) -> None:
    toolset = make_toolset(fhir, dataset.patients[0].id)
    for text in ('"unbalanced', "NEAR(a b) OR *", "a:b -c ^d", "AND OR NOT"):
        result = await run_tool(toolset, "search_record", {"name": text})
        assert result.tool == "search_record"


async def test_window_keeps_only_dated_hits_inside(dataset: Dataset, fhir: Any) -> None:
    patient = max(dataset.patients, key=lambda p: len(p.of("Encounter")))
    toolset = make_toolset(fhir, patient.id)
    every = await run_tool(toolset, "search_record", {"name": "encounter", "limit": 50})
    assert every.evidence
    year = sorted(e.date or "" for e in every.evidence)[len(every.evidence) // 2][:4]
    windowed = await run_tool(
        toolset, "search_record", {"name": "encounter", "since": year, "until": year, "limit": 50}
    )
    assert windowed.evidence
    assert all((e.date or "").startswith(year) for e in windowed.evidence)
