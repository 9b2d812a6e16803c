"""The ``act`` node: run the next pending tool call and record what it found.

The patient is the run's (the toolset is bound to it); the call names only the tool and
its arguments.  The result goes into the turn's steps as JSON (without raw FHIR), each
resource into the thread's evidence (one line, joined when two tools saw it), and each
new reference onto the thread's alias list.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from agent.configuration import RunContext
from agent.nodes.knobs import Update
from agent.results import result_to_json
from agent.state import AgentState, EvidenceRecord, StepRecord
from fhir_client.errors import FhirError
from tools import run_tool
from tools.inert_text import inert_line

__all__ = ["act"]


def _joined_text(known: str, new: str) -> str:
    """One resource seen by two tools keeps both views (a medication order's line and the
    line naming its reason), so an answer citing it may state what either says."""
    if new in known:
        return known
    return inert_line(new if known in new else f"{known}; {new}")


async def act(state: AgentState, runtime: Runtime[RunContext]) -> Update:
    """Run the next pending tool call for the bound patient and record its evidence."""
    turn = state["current"]
    pending = list(turn["pending"])
    call = pending.pop(0)
    runtime.stream_writer(
        {"type": "tool_call", "tool": call["tool"], "arguments": call["arguments"]}
    )
    step: StepRecord = {
        "node": "act",
        "tool": call["tool"],
        "arguments": call["arguments"],
        "count": 0,
        "source": turn["pending_source"],
        "error": None,
        "result": None,
    }
    known = state.get("evidence", {})
    evidence: dict[str, EvidenceRecord] = {}  # new or changed records (merged by the state)
    aliases: list[str] = []  # references to append (the state skips those it has)
    try:
        result = await run_tool(runtime.context.toolset, call["tool"], call["arguments"])
    except (FhirError, ValueError) as error:
        step["error"] = str(error)
    else:
        step["result"] = result_to_json(result)
        step["count"] = len(result.evidence)
        number = state.get("turn", 1)
        for item in result.evidence:
            earlier = evidence.get(item.reference) or known.get(item.reference)
            if earlier is None:
                record: EvidenceRecord = {
                    "reference": item.reference,
                    "text": item.text,
                    "date": item.date,
                    "tool": call["tool"],
                    "turn": number,
                }
                evidence[item.reference] = record
            else:
                evidence[item.reference] = {
                    **earlier,
                    "text": _joined_text(earlier["text"], item.text),
                    "turn": number,
                }
            aliases.append(item.reference)
    runtime.stream_writer(
        {"type": "evidence", "tool": call["tool"], "count": step["count"], "error": step["error"]}
    )
    return {
        "current": {"pending": pending, "steps": [step]},
        "evidence": evidence,
        "aliases": aliases,
    }
