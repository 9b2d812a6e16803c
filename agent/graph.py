"""The agent graph, built in one function you can read top to bottom.

    start_turn ─► check_run ─► route ─► plan ─► act ─► plan ... (bounded by the step budget)
        ─► answer ─► verify ─► END
             ▲          │
             └─ repair ─┘ (once)

``start_turn`` replaces the last turn's record with an empty one and ``check_run``
refuses a run without a context or about an unknown patient (see :mod:`agent.turn`);
``route`` decides how this turn retrieves (rules, model planning, or reuse of earlier
evidence); ``plan`` asks the model for one constrained action when the model plans;
``act`` runs one tool call; ``answer`` writes the answer (model or extractive);
``verify`` checks citations, numbers and dates, asks for one repair, then falls back.
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.configuration import RunContext
from agent.nodes import act, answer, next_after_plan, next_after_verify, plan, route, verify
from agent.state import AgentInput, AgentState
from agent.turn import check_run, start_turn

__all__ = ["AgentGraph", "build_graph"]

AgentGraph = CompiledStateGraph[AgentState, RunContext, AgentInput, Any]


def build_graph(checkpointer: BaseCheckpointSaver[Any] | None = None) -> AgentGraph:
    """Compile the graph; pass a checkpointer for multi-turn threads.

    Run it with a :class:`RunContext` (JSON; an :class:`agent.assistant.Assistant` makes
    one) or an ``AgentContext(toolset=..., model=...)``, and
    ``config={"configurable": {"thread_id": ...}}`` (see :mod:`agent.events`).
    """
    graph = StateGraph(AgentState, context_schema=RunContext, input_schema=AgentInput)
    graph.add_node("start_turn", start_turn)
    graph.add_node("check_run", check_run)
    graph.add_node("route", route)
    graph.add_node("plan", plan)
    graph.add_node("act", act)
    graph.add_node("answer", answer)
    graph.add_node("verify", verify)
    graph.add_edge(START, "start_turn")
    graph.add_edge("start_turn", "check_run")
    graph.add_edge("check_run", "route")
    graph.add_edge("route", "plan")
    graph.add_conditional_edges("plan", next_after_plan, {"act": "act", "answer": "answer"})
    graph.add_edge("act", "plan")
    graph.add_edge("answer", "verify")
    graph.add_conditional_edges("verify", next_after_verify, {"answer": "answer", "end": END})
    return graph.compile(checkpointer=checkpointer, name="ehr-agent")
