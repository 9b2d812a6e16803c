"""Our own chat templates, as pure functions of (system, user).

Why not llama-cpp-python's chat formats: its ``gemma`` format drops the system
message and, with no format given, it falls back to llama-2's. The Gemma 3
family (MedGemma included) has no system role, so the system text is folded
into the single user turn. Every prompt is one fresh single turn.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tools.inert_text import strip_special_tokens

__all__ = [
    "CHAT_FORMATS",
    "ChatFormat",
    "ChatTemplate",
    "ThinkingFilter",
    "chat_format_from_metadata",
    "chatml_prompt",
    "gemma_prompt",
    "get_template",
    "strip_thinking",
]

ChatFormat = Literal["gemma", "chatml"]
CHAT_FORMATS: tuple[ChatFormat, ...] = ("gemma", "chatml")

GEMMA_BOS = "<bos>"
THINK_OPEN = "<unused94>"
THINK_CLOSE = "<unused95>"

_GEMMA_ARCHITECTURES = frozenset({"gemma", "gemma2", "gemma3", "gemma3n"})


def gemma_prompt(system: str, user: str) -> str:
    """Gemma 3 single-turn prompt; the system text leads the user turn.

    Starts with the literal ``<bos>``: the llama.cpp backend tokenizes with
    ``add_bos=False`` so the prompt carries exactly one BOS.
    """
    body = f"{system}\n\n{user}" if system else user
    return f"{GEMMA_BOS}<start_of_turn>user\n{body}<end_of_turn>\n<start_of_turn>model\n"


def chatml_prompt(system: str, user: str) -> str:
    """ChatML single-turn prompt (SmolLM2, Qwen and others); keeps a system role."""
    parts = []
    if system:
        parts.append(f"<|im_start|>system\n{system}<|im_end|>\n")
    parts.append(f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
    return "".join(parts)


@dataclass(frozen=True)
class ChatTemplate:
    """A prompt builder plus the strings that end the model's turn."""

    name: ChatFormat
    stop: tuple[str, ...]

    def render(self, system: str, user: str) -> str:
        """The full prompt text for one single-turn call.

        Any chat-template marker of any family inside ``system`` or ``user`` is removed
        first (:func:`tools.inert_text.strip_special_tokens`): the backend tokenizes the
        prompt with special tokens enabled, so only the template may open or close a turn.
        """
        system, user = strip_special_tokens(system), strip_special_tokens(user)
        if self.name == "gemma":
            return gemma_prompt(system, user)
        return chatml_prompt(system, user)


_TEMPLATES: dict[ChatFormat, ChatTemplate] = {
    "gemma": ChatTemplate("gemma", ("<end_of_turn>", "<eos>")),
    "chatml": ChatTemplate("chatml", ("<|im_end|>", "<|endoftext|>")),
}


def get_template(chat_format: str) -> ChatTemplate:
    """The template called ``chat_format``; a ValueError lists the choices."""
    if chat_format not in _TEMPLATES:
        raise ValueError(
            f"Unknown chat format {chat_format!r}; choose one of: {', '.join(CHAT_FORMATS)}."
        )
    return _TEMPLATES[chat_format]


def chat_format_from_metadata(
    metadata: Mapping[str, str], chat_format: str | None = None, *, source: str = "the model"
) -> ChatFormat:
    """Pick the template from GGUF metadata, else from the explicit argument.

    An explicit ``chat_format`` wins, so a user can override a wrong guess.
    Gemma is recognised by ``general.architecture`` (the 270M test model has no
    ``tokenizer.chat_template`` at all); ChatML by ``<|im_start|>`` in the
    embedded template.
    """
    if chat_format is not None:
        return get_template(chat_format).name
    architecture = metadata.get("general.architecture", "")
    if architecture in _GEMMA_ARCHITECTURES:
        return "gemma"
    if "<|im_start|>" in metadata.get("tokenizer.chat_template", ""):
        return "chatml"
    raise ValueError(
        f"Cannot tell which chat format {source} uses (architecture {architecture!r}, "
        "no recognisable tokenizer.chat_template). Pass chat_format= one of: "
        f"{', '.join(CHAT_FORMATS)}."
    )


_THINKING_BLOCK = re.compile(re.escape(THINK_OPEN) + r".*?" + re.escape(THINK_CLOSE), re.DOTALL)


def strip_thinking(text: str) -> str:
    """Remove MedGemma's ``<unused94>...<unused95>`` thinking.

    An opening marker with no close (generation stopped mid-thought) drops
    everything after it: half a thought is never an answer. A stray closing
    marker (the opening one was in the prompt or cut off) drops what precedes
    it. Leading whitespace left behind is trimmed.
    """
    text = _THINKING_BLOCK.sub("", text)
    if THINK_CLOSE in text:
        text = text.split(THINK_CLOSE)[-1]
    if THINK_OPEN in text:
        text = text.split(THINK_OPEN, 1)[0]
    return text.lstrip()


class ThinkingFilter:
    """Streaming counterpart of :func:`strip_thinking`.

    Generated pieces arrive split at arbitrary points, possibly inside a marker;
    this holds back any tail that could be the start of a marker and suppresses
    text inside thinking blocks, so streamed text matches the final answer.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._thinking = False
        self._started = False

    def feed(self, piece: str) -> str:
        """Return the visible part of ``piece`` that is safe to emit now."""
        self._pending += piece
        out: list[str] = []
        while True:
            marker = THINK_CLOSE if self._thinking else THINK_OPEN
            at = self._pending.find(marker)
            if at >= 0:
                if not self._thinking:
                    out.append(self._pending[:at])
                self._pending = self._pending[at + len(marker) :]
                self._thinking = not self._thinking
                continue
            keep = _partial_marker_suffix(self._pending, marker)
            if not self._thinking:
                out.append(self._pending[: len(self._pending) - keep])
            self._pending = self._pending[len(self._pending) - keep :]
            break
        return self._visible("".join(out))

    def flush(self) -> str:
        """Emit a held-back tail that turned out not to be a marker."""
        rest, self._pending = ("" if self._thinking else self._pending), ""
        return self._visible(rest)

    def _visible(self, text: str) -> str:
        if not self._started:
            text = text.lstrip()
            self._started = bool(text)
        return text


def _partial_marker_suffix(text: str, marker: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``marker``."""
    for size in range(min(len(text), len(marker) - 1), 0, -1):
        if marker.startswith(text[-size:]):
            return size
    return 0
