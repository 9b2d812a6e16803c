"""The one interface every language-model backend implements.

Why a Protocol and not a base class: the graph only needs ``complete`` and a
token counter, and tests substitute :class:`~agent.models.scripted.ScriptedModel`
without inheriting anything. Every call is ONE fresh single-turn prompt (system
text plus one user message), never a chat history: MedGemma is not tuned for
multi-turn use and is sensitive to the exact prompt, so the graph rebuilds a
complete prompt from its state for every call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ChatModel",
    "Completion",
    "ContextOverflow",
    "InvalidModelOutput",
    "ModelError",
    "ModelUnavailable",
    "TokenCallback",
]

TokenCallback = Callable[[str], None]
"""Receives generated text pieces as they arrive.

Backends may call it from a worker thread (llama.cpp runs off the event loop),
so it must be thread-safe: append to a list, or use
``loop.call_soon_threadsafe`` to hand pieces to asyncio code.
"""


@dataclass(frozen=True)
class Completion:
    """One finished generation.

    ``text`` has MedGemma's thinking (``<unused94>...<unused95>``) already
    stripped, so callers never see or cite it.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


class ModelError(Exception):
    """A model call failed; the message says what failed and what to do."""


class ModelUnavailable(ModelError):
    """The model cannot be used at all (file missing or corrupt, endpoint down).

    The caller should fall back to the rule-based path rather than retry.
    """


class ContextOverflow(ModelError):
    """The prompt plus the requested output does not fit the context window.

    The caller should shorten the prompt (fewer facts) or raise the context.
    """


class InvalidModelOutput(ModelError):
    """The model answered, but not with JSON valid against the requested schema.

    ``raw`` keeps the text so the graph can log it, retry once, then fall back.
    """

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


@runtime_checkable
class ChatModel(Protocol):
    """A backend that turns one (system, user) prompt into a completion."""

    name: str
    """E.g. ``gguf:gemma3-270m-q4_k_m.gguf``, ``openai:http://host/v1#model``."""

    context_window: int
    """Tokens the prompt and the output must share."""

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes (exact for GGUF, approximate elsewhere)."""
        ...

    async def complete(
        self,
        system: str,
        user: str,
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        """Generate a reply to one fresh single-turn prompt.

        With ``json_schema`` the output is constrained to that schema. With
        ``on_token`` pieces are streamed as generated (possibly from a worker
        thread, see :data:`TokenCallback`).
        """
        ...
