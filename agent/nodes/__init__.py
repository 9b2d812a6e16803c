"""The graph's nodes: route, plan, act, answer, verify, one module each.

Each node reads the checkpointed state, the run's knobs (:func:`agent.nodes.knobs.knobs`)
and the run's context (:class:`agent.configuration.RunContext`, through LangGraph's
``Runtime``), and returns only what it changes: the thread's evidence and aliases, and
its part of the turn's record under ``current`` (merged by
:func:`agent.state.merge_turn`).  Progress goes to ``runtime.stream_writer`` as small
dicts (``{"type": "tool_call", ...}``) that :mod:`agent.events` turns into typed events.
"""

from agent.nodes.act import act
from agent.nodes.answer import answer
from agent.nodes.plan import next_after_plan, plan
from agent.nodes.route import route
from agent.nodes.verify import next_after_verify, verify

__all__ = ["act", "answer", "next_after_plan", "next_after_verify", "plan", "route", "verify"]
