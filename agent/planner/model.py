"""Ask the model for the next action, valid by construction or not at all.

The prompt offers the allowed tools; the JSON Schema (``planner.schema``) constrains a
llama.cpp backend's output with a grammar.  A server backend may still return invalid
JSON or arguments the tool rejects: that is retried once with the error, then reported
as a failure so the graph hands over to the rule-based planner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.models.base import ChatModel, Completion, InvalidModelOutput, ModelError
from agent.planner.schema import PlanningError, parse_plan, planning_schema
from agent.prompts import PLAN_SYSTEM, plan_user
from agent.state import ToolCall
from tools import TOOLS

__all__ = ["PlanOutcome", "plan_with_model"]

_DESCRIPTION_CHARS = 160


@dataclass
class PlanOutcome:
    """What planning produced: a call, the answer action (``call is None``), or failure."""

    call: ToolCall | None = None
    failed: bool = False
    errors: list[str] = field(default_factory=list)
    completions: list[Completion] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    attempts: int = 0


def _short(description: str) -> str:
    if len(description) <= _DESCRIPTION_CHARS:
        return description
    return description[:_DESCRIPTION_CHARS].rsplit(" ", 1)[0] + " ..."


async def plan_with_model(
    model: ChatModel,
    question: str,
    *,
    tools: tuple[str, ...],
    done: list[str],
    digest: str,
    calls_left: int,
    max_tokens: int,
) -> PlanOutcome:
    """One planning call, retried once on invalid output."""
    schema = planning_schema(tools)
    user = plan_user(
        question,
        tools=[(name, _short(TOOLS[name].description)) for name in tools],
        done=done,
        digest=digest,
        calls_left=calls_left,
    )
    outcome = PlanOutcome()
    for attempt in range(2):
        prompt = user
        if attempt and outcome.errors:
            prompt += f"\n(Your previous reply was invalid: {outcome.errors[-1]}. Reply again.)"
        outcome.attempts += 1
        try:
            completion = await model.complete(
                PLAN_SYSTEM, prompt, json_schema=schema, max_tokens=max_tokens
            )
        except InvalidModelOutput as error:
            outcome.errors.append(str(error))
            outcome.raw.append(error.raw)
            continue
        except ModelError as error:
            outcome.errors.append(str(error))
            outcome.failed = True
            return outcome
        outcome.completions.append(completion)
        outcome.raw.append(completion.text)
        try:
            outcome.call = parse_plan(completion.text, schema)
            return outcome
        except PlanningError as error:
            outcome.errors.append(str(error))
    outcome.failed = True
    return outcome
