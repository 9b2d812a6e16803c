"""The Assistant's one model: chosen by spec, loaded once on first use, switched by a door.

A GGUF takes seconds to load and a remote model may not answer, so the Assistant holds a
spec until a turn needs the model (``ensure``), loads it once off the event loop, and
lets the chat's ``/model`` switch it (``use`` now, or ``choose`` for the next turn).  The
graph's nodes reach it through :meth:`chat_model`, which refuses a spec this slot does
not hold: the run context names a model, it never brings one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agent.models.base import ChatModel, ModelError
from agent.models.spec import load_model

__all__ = ["ModelChoice", "ModelLoader", "ModelSlot"]

ModelChoice = str | ChatModel | None
"""A spec to load on first use (``"none"``, ``"medgemma"``, a path, ``openai:...``), or a
model already loaded (``None`` is the rule-based path)."""

ModelLoader = Callable[[str], ChatModel | None]
"""Turns a spec into a model (:func:`agent.models.spec.load_model`; tests pass their own)."""


def _is_none(spec: str) -> bool:
    return spec.strip().lower() == "none"


class ModelSlot:
    """One model, by spec, loaded at most once per choice."""

    def __init__(self, model: ModelChoice = None, loader: ModelLoader = load_model) -> None:
        self.spec = model if isinstance(model, str) else _name_of(model)
        self.model: ChatModel | None = None if isinstance(model, str) else model
        self.loaded = not isinstance(model, str) or _is_none(model)
        self._lock = asyncio.Lock()
        self._loader = loader

    @property
    def name(self) -> str:
        return self.model.name if self.model is not None else self.spec

    async def ensure(self) -> ChatModel | None:
        """Load the chosen model once, off the event loop (a GGUF takes seconds)."""
        async with self._lock:
            if not self.loaded:
                self.model = await asyncio.to_thread(self._loader, self.spec)
                self.loaded = True
        return self.model

    def choose(self, spec: str) -> None:
        """Use the model ``spec`` names from the next turn on, loading it then."""
        self.spec, self.model = spec, None
        self.loaded = _is_none(spec)

    async def use(self, spec: str) -> ChatModel | None:
        """Switch to the model ``spec`` names now; on failure the current one stays."""
        model = await asyncio.to_thread(self._loader, spec)
        async with self._lock:
            self.spec, self.model, self.loaded = spec, model, True
        return model

    def chat_model(self, spec: str) -> ChatModel | None:
        """The loaded model when ``spec`` names it (``None`` for "none"), else ModelError."""
        if spec == self.spec or (self.model is not None and spec == self.model.name):
            if not self.loaded:
                raise ModelError(f"model {spec!r} is not loaded yet; call ensure_model() first")
            return self.model
        if _is_none(spec):
            return None
        raise ModelError(
            f"this assistant runs model {self.spec!r}, not {spec!r}; "
            "switch it with use_model() (the chat's /model) or start it with that model"
        )


def _name_of(model: ChatModel | None) -> str:
    return model.name if model is not None else "none"
