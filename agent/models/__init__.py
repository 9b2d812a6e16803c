"""Language-model backends behind one small interface (:class:`ChatModel`).

Importing this package imports no backend and no model-only code: the core install has
no llama.cpp, :func:`agent.models.spec.load_model` imports a backend only when a GGUF or
a server is asked for, and the scripted test model (with the tool-call templates it
renders, the whole toolset) is imported on first use (PEP 562), so ``ask --model none``,
which imports :mod:`agent.models.spec`, does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.models.base import (
    ChatModel,
    Completion,
    ContextOverflow,
    InvalidModelOutput,
    ModelError,
    ModelUnavailable,
)
from fhir_client._lazy import lazy_attributes

if TYPE_CHECKING:
    from agent.models.scripted import ScriptedCall, ScriptedModel

_LAZY = {"ScriptedCall": "agent.models.scripted", "ScriptedModel": "agent.models.scripted"}

__all__ = [
    "ChatModel",
    "Completion",
    "ContextOverflow",
    "InvalidModelOutput",
    "ModelError",
    "ModelUnavailable",
    "ScriptedCall",
    "ScriptedModel",
]

__getattr__ = lazy_attributes(__name__, _LAZY)
