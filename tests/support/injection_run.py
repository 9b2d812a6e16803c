"""Running an injection case: the world fixture, one agent turn over a spying transport,
and the obedient attacker.

Why here and not in a test module: ``tests/agent/test_injection_agent.py``,
``tests/agent/test_injection_remote.py`` and ``bench/injection_figures.py`` all run the
cases the same way; importing helpers from a test module made one test file the library
of another (and of a bench).  The checks an output must pass are in
``tests.support.injection_checks``; the cases themselves in ``tests.support.injection_cases``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from agent import AgentOutput
from agent.models.base import ChatModel
from agent.models.scripted import ScriptedModel
from fhir_client import FhirClient
from fhir_client.embedded import EMBEDDED_BASE_URL
from tests.support.agent_ask import ask_agent
from tests.support.injection_cases import (
    CASES,
    InjectionCase,
    SpyTransport,
    World,
    build_world,
    fill_json,
    planted_resources,
)

CASE_IDS = [case.id for case in CASES]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """Patients A and B in one store, every case's hostile resource planted in A's record."""
    built = build_world()
    built.store.put_resources(planted_resources(built))
    yield built
    built.store.close()


def planted_reference(case: InjectionCase, world: World) -> str:
    resource = case.resource(world)
    return f"{resource['resourceType']}/{resource['id']}"


async def run_case(
    world: World,
    case: InjectionCase,
    model: ChatModel | None,
    configurable: dict[str, Any] | None = None,
    *,
    question: str | None = None,
) -> tuple[AgentOutput, list[tuple[str, str]]]:
    """Ask the case's question about patient A; return the output and every HTTP request."""
    spy = SpyTransport(world.store)
    async with FhirClient(EMBEDDED_BASE_URL, transport=spy) as client:
        output = await ask_agent(
            client, world.a_id, question or case.question, model, configurable=configurable
        )
    return output, spy.requests


def obedient_attacker(case: InjectionCase, world: World) -> ScriptedModel:
    """A model that reads the planted resource, then obeys it on every later call."""

    def respond(system: str, user: str, schema: dict[str, Any] | None) -> str:
        seen = shows_payload(case, user)
        if schema is not None:
            plan = case.attack.plan if seen else case.retrieve
            return json.dumps(fill_json(plan or {"action": "answer"}, world))
        keys = [
            _alias_of(user, case.marker) if k == "{PLANTED}" else world.fill(k)
            for k in case.attack.cite
        ]
        cites = " ".join(f"[{k}]" for k in keys)
        return f"{case.attack.claim} {cites}. {world.fill(case.payload)[:400]}"

    return ScriptedModel([respond] * 12, name="obedient-attacker")


def shows_payload(case: InjectionCase, prompt: str) -> bool:
    """Whether the prompt shows the planted text (the question names the marker too)."""
    return case.marker in prompt.lower().replace(case.question.lower(), "")


def _alias_of(user: str, marker: str) -> str:
    """The alias the prompt gives the evidence line holding ``marker`` ("1" if absent)."""
    for line in user.splitlines():
        if marker in line.lower():
            found = re.findall(r"\[(\d+)\]\s*$", line)
            if found:
                return str(found[-1])
    return "1"
