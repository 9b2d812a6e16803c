"""A scripted model's replies for the graph tests, and the fixture patient they are about.

The replies behave as a real model would: an answer finds, in the prompt it receives, the
alias of the evidence line it cites.  Why here: the graph's tool loop, its threads and its
answer verification are tested in three files (``tests/agent/test_agent_graph_scripted*.py``)
on the same patient with the same replies; the ``record`` fixture is imported by name
(with ``__all__``) where used.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support import agent_truth as truth
from tests.support.tools_datasets import Dataset, PatientRecord

COMPLEX = "Is her diabetes well controlled?"  # not a single fact: the model plans
LATEST = "What was the most recent HbA1c?"


@pytest.fixture(scope="module")
def record(dataset: Dataset) -> PatientRecord:
    """The fixture patient with the most HbA1c results (at least two days of them)."""
    best = max(dataset.patients, key=lambda r: len({truth.day(o) for o in truth.hba1c_results(r)}))
    assert len({truth.day(o) for o in truth.hba1c_results(best)}) >= 2
    return best


def latest_hba1c(record: PatientRecord) -> tuple[str, float, set[str]]:
    latest_day, refs = truth.newest(truth.hba1c_results(record))
    value = next(
        r["valueQuantity"]["value"] for r in truth.hba1c_results(record) if truth.ref(r) in refs
    )
    return latest_day, value, refs


def plan(tool: str, **arguments: Any) -> str:
    return json.dumps({"action": tool, "arguments": arguments})


ANSWER = json.dumps({"action": "answer"})


def alias_of(user: str, day: str) -> str:
    """The alias the prompt gives to the HbA1c line of ``day``."""
    match = re.search(rf"^{day}:? [^\n]*?HbA1c [^\[\n]*\[(\d+)\]", user, re.MULTILINE)
    assert match, f"no HbA1c line for {day} in the prompt:\n{user}"
    return match.group(1)


def good_answer(record: PatientRecord) -> Any:
    day, value, _ = latest_hba1c(record)

    def write(system: str, user: str, schema: Any) -> str:
        return f"The most recent HbA1c was {value} % on {day} [{alias_of(user, day)}]."

    return write


def echo_first_line(system: str, user: str, schema: Any) -> str:
    """An answer that copies the first evidence line, citation included."""
    line = user.split("Evidence:\n", 1)[1].splitlines()[0]
    return f"The record shows: {line}."
