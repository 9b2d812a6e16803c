"""Language-model backends behind one small interface (:class:`ChatModel`).

Importing this package does not import llama-cpp-python: the core install has
no llama.cpp, and :func:`agent.models.spec.load_model` imports the backend
only when a GGUF is asked for.
"""

from agent.models.base import (
    ChatModel,
    Completion,
    ContextOverflow,
    InvalidModelOutput,
    ModelError,
    ModelUnavailable,
)
from agent.models.scripted import ScriptedCall, ScriptedModel

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
