"""Planning: which tools to call for a question.

``rules`` maps a question's words to tool calls (no model needed); ``schema`` builds the
grammar-friendly JSON Schema the model plans with and parses its output; ``model``
asks the model for one action, retrying once, then handing over to the rules.
"""

from agent.planner.follow_on import follow_on_calls
from agent.planner.rules import (
    RulePlan,
    fallback_calls,
    plan_question,
    plan_reading,
    question_mode,
)
from agent.planner.schema import PlanningError, parse_plan, planning_schema

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
