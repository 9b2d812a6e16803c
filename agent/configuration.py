"""A run's context: JSON that says whom and how, live objects looked up from it.

LangGraph checkpoints state and sends a server run's context as JSON; neither is a place
for a FHIR client or a loaded model.  So:

* :class:`RunContext` is the graph's ``context_schema``: plain JSON (patient id, model
  spec, optional budgets), validated by pydantic, so LangGraph's own server can send it
  (``{"patient_id": "...", "model_spec": "none"}``) and Studio shows its form.  Its
  ``toolset`` and ``model`` come from the live resources registered under its
  ``resources`` key: an :class:`agent.assistant.Assistant` registers itself, and the
  LangGraph server's entry registers the one it opens for the process.
* :class:`AgentContext` is the same context built around live objects in-process
  (``AgentContext(toolset=make_toolset(client, patient_id), model=model)``), for code that
  embeds the graph without an Assistant.  The patient is fixed by the caller, never by
  the model.
* :class:`Configuration`: knobs from ``config["configurable"]``, overridden by the
  context's budgets when a run sets them.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from agent.models.base import ChatModel
from fhir_client.ids import ID_PATH_PATTERN
from tools import PatientToolset

if TYPE_CHECKING:  # the type only: this module must import without LangGraph
    from langchain_core.runnables import RunnableConfig

__all__ = [
    "DEFAULT_RESOURCES",
    "AgentContext",
    "Configuration",
    "MissingResources",
    "RunContext",
    "RunResources",
    "register_resources",
    "unregister_resources",
]

DEFAULT_RESOURCES = "default"
"""The key a context names when it does not say which resources serve it."""

BUDGETS = {
    "max_tool_calls": "max_tool_calls",
    "max_context_tokens": "context_window",
    "answer_max_tokens": "answer_max_tokens",
    "plan_max_tokens": "plan_max_tokens",
}
"""Context budget -> the :class:`Configuration` knob it overrides."""


class MissingResources(LookupError):
    """A context names resources that no Assistant registered in this process."""


class RunResources(Protocol):
    """What a run needs alive: a patient's tools and the model a spec names."""

    def toolset(self, patient_id: str) -> PatientToolset: ...

    def chat_model(self, spec: str) -> ChatModel | None: ...

    async def check_patient(self, patient_id: str) -> object:
        """Raise (``ValueError``, ``ResourceNotFound``) unless the record has the patient."""
        ...


# Weak values: an Assistant that is gone serves no run, and is not kept alive by this.
_registry: weakref.WeakValueDictionary[str, RunResources] = weakref.WeakValueDictionary()


def register_resources(key: str, resources: RunResources) -> None:
    """Make ``resources`` serve every context whose ``resources`` is ``key``."""
    _registry[key] = resources


def unregister_resources(key: str, resources: RunResources) -> None:
    """Forget ``key`` if it still names ``resources`` (a later registration wins)."""
    if _registry.get(key) is resources:
        del _registry[key]


class RunContext(BaseModel):
    """The JSON run context; see the module doc.  Unknown keys are refused by name."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    patient_id: str = Field(
        pattern=ID_PATH_PATTERN, description="The FHIR id of the one patient this run is about."
    )
    model_spec: str = Field(
        default="none",
        max_length=2048,
        description="none, medgemma, PATH.gguf or openai:URL#model (as --model takes).",
    )
    resources: str = Field(
        default=DEFAULT_RESOURCES,
        max_length=64,
        description="Which registered Assistant holds the record and the model.",
    )
    max_tool_calls: int | None = Field(default=None, ge=1, le=16)
    max_context_tokens: int | None = Field(default=None, ge=512, le=131_072)
    answer_max_tokens: int | None = Field(default=None, ge=16, le=8192)
    plan_max_tokens: int | None = Field(default=None, ge=16, le=4096)

    def _resources(self) -> RunResources:
        found = _registry.get(self.resources)
        if found is None:
            raise MissingResources(
                f"no record source is open for run context resources {self.resources!r} in "
                "this process; open an agent.assistant.Assistant (or pass an AgentContext "
                "built around a toolset)"
            )
        return found

    # One toolset per run: it caches the patient's record and concept index, which every
    # node of the turn reads (a fresh one per node read the whole record again each time).
    _run_toolset: PatientToolset | None = PrivateAttr(default=None)

    @property
    def toolset(self) -> PatientToolset:
        if self._run_toolset is None:
            self._run_toolset = self._resources().toolset(self.patient_id)
        return self._run_toolset

    @property
    def model(self) -> ChatModel | None:
        return self._resources().chat_model(self.model_spec)

    async def check_patient(self) -> None:
        """Raise unless the record holds this run's patient (see ``RunResources``)."""
        await self._resources().check_patient(self.patient_id)

    @property
    def model_name(self) -> str:
        model = self.model
        return model.name if model is not None else "none"

    def budgets(self) -> dict[str, int]:
        """The knobs this context sets, by :class:`Configuration` name."""
        return {
            knob: value
            for name, knob in BUDGETS.items()
            if (value := getattr(self, name)) is not None
        }

    def context_window(self, configured: int) -> int:
        """The smaller of the configured budget and the model's real window."""
        model = self.model
        return configured if model is None else min(configured, model.context_window)


class AgentContext(RunContext):
    """A run context around live objects: one patient's tools and, optionally, a model.

    ``model=None`` selects the rule-based planner and the extractive answer, so the graph
    is useful (and testable) with no model at all.
    """

    _live_toolset: PatientToolset = PrivateAttr()
    _live_model: ChatModel | None = PrivateAttr(default=None)

    def __init__(
        self, toolset: PatientToolset, model: ChatModel | None = None, **budgets: Any
    ) -> None:
        super().__init__(
            patient_id=toolset.patient_id,
            model_spec=model.name if model is not None else "none",
            **budgets,
        )
        self._live_toolset = toolset
        self._live_model = model

    @property
    def toolset(self) -> PatientToolset:
        return self._live_toolset

    @property
    def model(self) -> ChatModel | None:
        return self._live_model

    async def check_patient(self) -> None:
        await self._live_toolset.scope.read_patient()


def _context_budgets() -> dict[str, int]:
    """The current run's context budgets, when called inside a graph run."""
    try:
        from langgraph.runtime import get_runtime

        context = get_runtime().context
    except (RuntimeError, KeyError, ImportError):
        return {}
    return context.budgets() if isinstance(context, RunContext) else {}


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
        values.update(_context_budgets())
        return cls(**values)
