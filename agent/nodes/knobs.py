"""What every node reads besides the state: this run's knobs, and its model usage.

Apart from the nodes because each of them needs it and none of them owns it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langgraph.config import get_config

from agent.configuration import Configuration
from agent.models.base import Completion
from agent.state import TurnState, Usage, empty_usage

__all__ = ["Update", "knobs", "tool_calls_made", "usage_of"]

Update = dict[str, Any]
"""What a node returns: the state keys it changes (``current`` holds its part of the
turn's record, merged by :func:`agent.state.merge_turn`)."""


def knobs() -> Configuration:
    """This run's knobs, from ``config["configurable"]`` (LangGraph's current config)."""
    return Configuration.from_runnable_config(get_config())


def usage_of(completions: Iterable[Completion], *, failed_calls: int = 0) -> Usage:
    """One node's model usage (the turn's record adds the nodes' usage up).

    ``failed_calls``: model calls that raised, which cost a call but report no tokens.
    """
    usage = empty_usage()
    usage["llm_calls"] = failed_calls
    for completion in completions:
        usage["llm_calls"] += 1
        usage["prompt_tokens"] += completion.prompt_tokens
        usage["completion_tokens"] += completion.completion_tokens
        usage["model_seconds"] += completion.seconds
    return usage


def tool_calls_made(turn: TurnState) -> int:
    """How many tool calls this turn has run (the step budget counts them)."""
    return sum(1 for step in turn["steps"] if step["node"] == "act")
