"""The rules' second step: calls that need what the first ones found.

"What happened at the last visit?" can only ask for that visit's procedures,
immunizations and results once the visit (and so its day) is known.  The same day is
asked of each dated family, which is how a Synthea visit's resources are linked in
time; one step, so a turn stays within its budget.
"""

from __future__ import annotations

from typing import Any

from agent.reading import Reading
from agent.results import result_from_json
from agent.state import StepRecord, ToolCall
from tools.declare import ToolName

__all__ = ["follow_on_calls"]

_VISITS: ToolName = "encounters"
_ATTACHED: tuple[ToolName, ...] = ("procedures", "immunizations")
_MAX_ATTACHED = 50


def _visit_day(steps: list[StepRecord]) -> str | None:
    for step in steps:
        if step["node"] != "act" or step["tool"] != _VISITS or not step.get("result"):
            continue
        result = result_from_json(step["result"])  # type: ignore[arg-type]
        days = sorted((e.date for e in result.evidence if e.date), reverse=True)
        if days:
            return days[0][:10]
    return None


def follow_on_calls(reading: Reading, steps: list[StepRecord]) -> list[ToolCall]:
    """Calls for the last visit's day after ``encounters`` found it (else none)."""
    if reading.asks != "timeline":
        return []
    made = {s["tool"] for s in steps if s["node"] == "act"}
    day = _visit_day(steps)
    if day is None or made & set(_ATTACHED):
        return []
    arguments: dict[str, Any] = {"since": day, "until": day, "limit": _MAX_ATTACHED}
    return [{"tool": tool, "arguments": dict(arguments)} for tool in _ATTACHED]
