"""The output contract: one JSON object per answer, for the CLI, the API and replay.

Pydantic so the schema is published (``AgentOutput.model_json_schema()``) and tests can
validate the CLI's ``--json`` against it.  The answer text carries full
``[ResourceType/id]`` citations; ``citations`` says which were verified against the
evidence retrieved in the thread, ``evidence`` lists every line the answer could use.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agent.state import AgentState, new_turn

__all__ = [
    "AgentOutput",
    "CitationOut",
    "EvidenceOut",
    "StepOut",
    "Timings",
    "TokenUsage",
    "build_output",
]


class CitationOut(BaseModel):
    reference: str
    verified: bool
    line: str | None = Field(None, description="The cited evidence line (None if unverified).")


class EvidenceOut(BaseModel):
    reference: str
    line: str
    tool: str
    turn: int


class StepOut(BaseModel):
    node: str
    tool: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    count: int = 0
    source: str = ""
    error: str | None = None


class Timings(BaseModel):
    total_seconds: float
    model_seconds: float
    other_seconds: float


class TokenUsage(BaseModel):
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int


class AgentOutput(BaseModel):
    """The answer to one question, with everything needed to check it."""

    question: str
    answer: str
    citations: list[CitationOut]
    evidence: list[EvidenceOut]
    steps: list[StepOut]
    model: str
    thread_id: str
    patient_id: str
    fallback: bool = Field(
        False, description="True when the extractive answer replaced the model's."
    )
    notes: list[str] = Field(default_factory=list)
    timings: Timings
    tokens: TokenUsage


def build_output(
    state: AgentState, *, model: str, thread_id: str, total_seconds: float
) -> AgentOutput:
    """The contract object from a finished turn's state."""
    current = state.get("current") or new_turn()
    usage = current["usage"]
    model_seconds = float(usage["model_seconds"])
    turn = state.get("turn", 0)
    cited = {c["reference"] for c in current["citations"]}
    evidence = [
        EvidenceOut(reference=ref, line=e["text"], tool=e["tool"], turn=e["turn"])
        for ref, e in state.get("evidence", {}).items()
        if e["turn"] == turn or ref in cited
    ]
    return AgentOutput(
        question=state.get("question", ""),
        answer=current["answer"],
        citations=[CitationOut(**c) for c in current["citations"]],
        evidence=evidence,
        steps=[
            StepOut.model_validate({k: v for k, v in step.items() if k != "result"})
            for step in current["steps"]
        ],
        model=model,
        thread_id=thread_id,
        patient_id=state.get("patient_id", ""),
        fallback=current["fallback"],
        notes=list(current["notes"]),
        timings=Timings(
            total_seconds=round(total_seconds, 4),
            model_seconds=round(model_seconds, 4),
            other_seconds=round(max(0.0, total_seconds - model_seconds), 4),
        ),
        tokens=TokenUsage(
            llm_calls=usage["llm_calls"],
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
        ),
    )
