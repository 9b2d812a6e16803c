"""A tool is one typed function: adding one is one edit, and its signature is the contract.

The schema the planner's grammar is built from, the validation of a model's arguments and
the validation of a direct Python call all come from the method's signature through
pydantic; this test adds a tool in a subclass and uses it through the real registry code
on a real Synthea record in the embedded store.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, get_args

import pytest
from pydantic import Field, ValidationError

from agent.absence import failed_topics
from agent.planner.schema import planning_schema
from tests.support.tools_datasets import Dataset
from tools import TOOLS, PatientToolset, ToolArgumentError, ToolResult
from tools.declare import DateText, ToolName, tool
from tools.registry import check_tool_names, run_tool, spec_of, tool_specs, validate_arguments
from tools.toolset import VitalChoice
from tools.vocabulary import vital_sign_names


class WithVisitCount(PatientToolset):
    """The toolset plus one tool, declared once."""

    @tool(noun="visits")
    async def visit_count(
        self,
        since: DateText | None = None,
        until: DateText | None = None,
        limit: Annotated[int, Field(ge=1, le=5)] = 3,
    ) -> ToolResult:
        """How many visits the record holds in the period (and the newest `limit`)."""
        return await self.encounters(since=since, until=until, limit=limit)


DATASETS = ("spezi",)
"""The Synthea sets the ``dataset`` fixture (tests/conftest.py) loads, one run each."""


async def test_a_tool_added_in_one_edit_is_planned_validated_and_run(
    dataset: Dataset, fhir: Any
) -> None:
    specs = tool_specs(WithVisitCount)
    assert set(specs) == {*TOOLS, "visit_count"}
    spec = specs["visit_count"]
    assert spec.description.startswith("How many visits") and spec.noun == "visits"
    assert spec.parameters["properties"]["limit"] == {
        "default": 3, "maximum": 5, "minimum": 1, "type": "integer"
    }  # fmt: skip
    assert spec.parameters["additionalProperties"] is False
    with pytest.raises(ToolArgumentError, match="between 1 and 5"):
        validate_arguments("visit_count", {"limit": 9}, specs)
    with pytest.raises(ToolArgumentError, match="YYYY"):
        validate_arguments("visit_count", {"since": "last year"}, specs)
    patient = max(dataset.patients, key=lambda p: len(p.of("Encounter")))
    toolset = WithVisitCount(fhir, patient.id)
    result = await run_tool(toolset, "visit_count", {"limit": 2}, specs)
    assert result.total_available == len(patient.of("Encounter"))
    assert len(result.items) == 2


def test_the_planning_grammar_is_built_from_the_signatures() -> None:
    schema = planning_schema(tuple(TOOLS))
    text = json.dumps(schema)
    for name in TOOLS:
        assert f'"const": "{name}"' in text


async def test_direct_calls_are_validated_too(dataset: Dataset, fhir: Any) -> None:
    toolset = PatientToolset(fhir, dataset.patients[0].id)
    with pytest.raises(ValidationError):
        await toolset.conditions(limit=500)
    with pytest.raises(ValidationError):
        await toolset.lab_results("A1c", mode="sideways")  # type: ignore[arg-type]


def test_vital_names_are_the_vocabulary_s() -> None:
    assert list(get_args(VitalChoice)) == vital_sign_names()


def test_a_tool_named_nowhere_else_is_refused_at_import() -> None:
    # The product's tools and ToolName agree (tools.registry checked this on import) ...
    assert set(get_args(ToolName)) == set(TOOLS)
    check_tool_names(TOOLS)
    # ... and a toolset with a tool ToolName does not name is refused, saying which.
    with pytest.raises(ImportError, match=r"only in the toolset \['visit_count'\]"):
        check_tool_names(tool_specs(WithVisitCount))
    assert spec_of("encounterz") is None and spec_of(None) is None


def test_what_the_agent_knows_of_a_tool_is_on_its_spec() -> None:
    for name, spec in TOOLS.items():
        properties = spec.parameters["properties"]
        if spec.kind == "observation":  # latest/first/series of one named value
            assert {"name", "mode", "limit"} <= properties.keys(), name
        if spec.kind == "event":  # dated, windowed, the planner asks for whole windows
            assert {"since", "until", "limit"} <= properties.keys(), name
            assert properties["limit"]["maximum"] >= 200, name
        assert all(t == t.lower() and t for t in spec.mark.topics), name
    # The verifier's words come from the specs: a failed allergy search bounds "no
    # allergies"; a record-wide search counts as a search of every tool's topics.
    assert failed_topics("allergies", {}) == TOOLS["allergies"].mark.topics == ("allerg",)
    every = set(failed_topics("find_concept", {"name": "Plavix"}))
    assert {t for s in TOOLS.values() for t in s.mark.topics} | {"plavix"} == every
    assert failed_topics("billing", {}) == ("billing",)  # no topics: its name
    # The extractive answer's nouns: a count of visits, of vaccine doses.
    assert TOOLS["encounters"].count_nouns == ("encounter", "encounters")
    assert TOOLS["immunizations"].count_nouns == ("vaccine dose", "vaccine doses")
    assert TOOLS["allergies"].count_nouns is None  # "how many allergies" lists them
    assert TOOLS["clinical_notes"].listed == "matching clinical notes"
    assert TOOLS["care_plans"].listed == "care plans"  # derived from the name
