"""Run configuration: plain knobs from ``RunnableConfig``, live objects from the context.

LangGraph checkpoints state, and may log ``configurable``; neither is a place for a FHIR
client or a loaded model.  So the split is:

* :class:`Configuration`: JSON-able knobs read from ``config["configurable"]`` (thread id,
  step budget, context size, output lengths), defaults usable as is.
* :class:`AgentContext`: the per-run objects (the patient's toolset, the model or ``None``
  for the rule-based path), passed as ``graph.ainvoke(..., context=AgentContext(...))``.
  The patient is fixed here by the caller, never by the model.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.models.base import ChatModel
from tools import PatientToolset

__all__ = ["AgentContext", "Configuration"]


@dataclass(frozen=True)
class Configuration:
    """Knobs for one run; every field can be set in ``config["configurable"]``."""

    thread_id: str = ""
    max_tool_calls: int = 4
    context_window: int = 8192
    answer_max_tokens: int = 384
    plan_max_tokens: int = 160

    @classmethod
    def from_runnable_config(cls, config: RunnableConfig | None) -> Configuration:
        configurable: dict[str, Any] = dict((config or {}).get("configurable") or {})
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in configurable.items() if k in known and v is not None}
        if "thread_id" in values:
            values["thread_id"] = str(values["thread_id"])
        return cls(**values)


@dataclass(frozen=True)
class AgentContext:
    """What a run works with: one patient's tools and, optionally, a model.

    ``model=None`` selects the rule-based planner and the extractive answer, so the graph
    is useful (and testable) with no model at all.
    """

    toolset: PatientToolset
    model: ChatModel | None = None

    @property
    def patient_id(self) -> str:
        return self.toolset.patient_id

    @property
    def model_name(self) -> str:
        return self.model.name if self.model is not None else "none"

    def context_window(self, configured: int) -> int:
        """The smaller of the configured budget and the model's real window."""
        if self.model is None:
            return configured
        return min(configured, self.model.context_window)
