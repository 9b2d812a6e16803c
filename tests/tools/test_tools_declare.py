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

from agent.planner.schema import planning_schema
from tests.tools_datasets import Dataset
from tools import TOOLS, PatientToolset, ToolArgumentError, ToolResult
from tools.declare import DateText, tool
from tools.registry import run_tool, tool_specs, validate_arguments
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
