"""Planning: which tools to call for a question.

``rules`` maps a question's words to tool calls (no model needed); ``schema`` builds the
grammar-friendly JSON Schema the model plans with and parses its output; ``model``
asks the model for one action, retrying once, then handing over to the rules.  The
schema's names are imported on first use (PEP 562): the rule-based path never plans
with a model and does not pay for building its schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.planner.follow_on import follow_on_calls
from agent.planner.rules import (
    RulePlan,
    fallback_calls,
    plan_question,
    plan_reading,
    question_mode,
)
from fhir_client._lazy import lazy_attributes

if TYPE_CHECKING:
    from agent.planner.schema import PlanningError, parse_plan, planning_schema

_LAZY = {
    "PlanningError": "agent.planner.schema",
    "parse_plan": "agent.planner.schema",
    "planning_schema": "agent.planner.schema",
}

__all__ = [
    "PlanningError",
    "RulePlan",
    "fallback_calls",
    "follow_on_calls",
    "parse_plan",
    "plan_question",
    "plan_reading",
    "planning_schema",
    "question_mode",
]

__getattr__ = lazy_attributes(__name__, _LAZY)
