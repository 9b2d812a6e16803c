"""A deterministic stand-in model that replays prepared outputs.

Why: graph tests must exercise routing, tool calls and citations without a
real model, whose output (especially the 270M test model's) is nonsense. The
scripted model also records every call, so tests can assert on the prompts
the graph built.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.models.base import (
    Completion,
    ContextOverflow,
    InvalidModelOutput,
    ModelError,
    TokenCallback,
)
from agent.models.templates import strip_thinking

__all__ = ["ScriptedCall", "ScriptedModel", "ScriptedOutput", "approx_tokens"]

ScriptedOutput = str | Callable[[str, str, dict[str, Any] | None], str]
"""A fixed reply, or a function of (system, user, json_schema) returning one."""

_STREAM_PIECE = 4  # characters per streamed piece: small enough to look like tokens


def approx_tokens(text: str) -> int:
    """Approximate token count: about four characters per token, at least 1.

    Good enough for budgeting in tests and for servers that report no usage;
    never use it where an exact count matters.
    """
    return max(1, len(text) // 4) if text else 0


@dataclass(frozen=True)
class ScriptedCall:
    """What one ``complete`` call received."""

    system: str
    user: str
    json_schema: dict[str, Any] | None
    max_tokens: int


class ScriptedModel:
    """Replays ``outputs`` in order, one per ``complete`` call.

    Like the real backends it strips thinking, streams the visible text to
    ``on_token`` (here synchronously, on the calling thread), raises
    :class:`ContextOverflow` when the approximate prompt size plus
    ``max_tokens`` exceeds ``context_window``, and raises
    :class:`InvalidModelOutput` when a schema call gets non-JSON. It does not
    validate against the schema itself: tests script what they need.
    """

    def __init__(
        self,
        outputs: Sequence[ScriptedOutput],
        *,
        name: str = "scripted",
        context_window: int = 8192,
    ) -> None:
        self.name = name
        self.context_window = context_window
        self._outputs = list(outputs)
        self.calls: list[ScriptedCall] = []

    @property
    def remaining(self) -> int:
        """Outputs not yet replayed (tests assert the script was used up)."""
        return len(self._outputs) - len(self.calls)

    def count_tokens(self, text: str) -> int:
        """Approximate count (len // 4); see :func:`approx_tokens`."""
        return approx_tokens(text)

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
        """Return the next scripted output; raise when the script is used up."""
        started = time.perf_counter()
        index = len(self.calls)
        self.calls.append(ScriptedCall(system, user, json_schema, max_tokens))
        if index >= len(self._outputs):
            raise ModelError(
                f"ScriptedModel ran out of outputs: call {index + 1} but only "
                f"{len(self._outputs)} scripted. Add more outputs to the script "
                "or check why the graph called the model more often than expected. "
                f"Last user prompt starts: {user[:120]!r}"
            )
        prompt_tokens = approx_tokens(system) + approx_tokens(user)
        if prompt_tokens + max_tokens > self.context_window:
            raise ContextOverflow(
                f"Prompt of ~{prompt_tokens} tokens plus max_tokens={max_tokens} exceeds "
                f"the {self.context_window}-token context of {self.name}; shorten the prompt."
            )
        output = self._outputs[index]
        text = output if isinstance(output, str) else output(system, user, json_schema)
        visible = strip_thinking(text)
        if on_token is not None:
            for start in range(0, len(visible), _STREAM_PIECE):
                on_token(visible[start : start + _STREAM_PIECE])
        if json_schema is not None:
            _check_json(visible, index)
        return Completion(
            text=visible,
            prompt_tokens=prompt_tokens,
            completion_tokens=approx_tokens(text),
            seconds=time.perf_counter() - started,
        )


def _check_json(text: str, index: int) -> None:
    """Behave like a real backend: non-JSON for a schema call is invalid output.

    Scripting deliberately bad JSON is how graph tests exercise the
    retry-then-fall-back path.
    """
    try:
        json.loads(text)
    except ValueError as exc:
        raise InvalidModelOutput(
            f"Scripted output {index + 1} is not JSON but the call asked for a schema "
            f"({exc}); if that was not intended, fix the test script.",
            raw=text,
        ) from exc
