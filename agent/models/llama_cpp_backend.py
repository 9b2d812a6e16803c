"""Any local GGUF through llama-cpp-python, with our own chat templates.

Why these choices:
- The prompt is tokenized by us and passed as token ids, so it carries
  exactly the BOS our template wrote (llama-cpp-python would otherwise add
  one in front of the template's literal ``<bos>``) and we know its length
  before generating: a prompt that does not fit raises
  :class:`ContextOverflow` instead of being silently truncated.
- llama.cpp runs in a worker thread (``asyncio.to_thread``) so the event
  loop keeps serving; a lock serialises calls because one ``Llama`` instance
  is not thread-safe.
- Output under a schema is constrained by a grammar and then checked, since
  the grammar converter is not airtight (see :mod:`agent.models.grammar`).
- Cheaper tokens on a CPU (measured by ``bench/model_speed.py``): the KV
  state of each instruction text's prompt prefix is kept and restored
  (:mod:`agent.models.llama_prefix_cache`, on by default: 1.07x less CPU per
  answer, identical answers, 9% fewer prompt tokens evaluated, on the 270M model
  with open questions and follow-ups in one thread, ``--workload thread``; about
  1.0x on single rule-routed questions, where llama.cpp's own reuse of the
  previous prompt already covers it), and prompt-lookup
  (speculative) decoding can draft tokens copied from the prompt
  (``prompt_lookup_tokens``, off by default: llama-cpp-python then keeps
  logits for every prompt position, which costs more than it saves with
  Gemma's 262k vocabulary on a CPU; see the bench).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.models.base import (
    Completion,
    ContextOverflow,
    InvalidModelOutput,
    ModelError,
    ModelUnavailable,
    TokenCallback,
)
from agent.models.grammar import grammar_for_schema, longest_output, narrow_schema
from agent.models.json_output import parse_json_output
from agent.models.llama_prefix_cache import PrefixCache
from agent.models.templates import (
    ThinkingFilter,
    chat_format_from_metadata,
    get_template,
    strip_thinking,
)
from fhir_client.limits import MAX_PROMPT_LOOKUP_TOKENS

__all__ = ["ENV_PREFIX_CACHE", "ENV_PROMPT_LOOKUP", "LlamaCppModel"]

ENV_PREFIX_CACHE = "EHR_AGENT_LLAMA_PREFIX_CACHE"
"""``0`` turns the prompt-prefix KV cache off (default on)."""
ENV_PROMPT_LOOKUP = "EHR_AGENT_LLAMA_PROMPT_LOOKUP"
"""Number of tokens to draft by prompt lookup (default 0: off)."""

_FIX_HINT = (
    "Pass the path of a valid .gguf file (a download may be incomplete: fetch it again), "
    "or run `ehr-agent model pull` to download MedGemma; use --model none "
    "for the rule-based path."
)


_SYSTEM_SLOT = "\x00system\x00"
_USER_SLOT = "\x00user\x00"
_SLOTS = re.compile("(\x00system\x00|\x00user\x00)")


class LlamaCppModel:
    """A :class:`~agent.models.base.ChatModel` over one GGUF file.

    ``on_token`` is called from the llama.cpp worker thread, never the event
    loop: make it thread-safe or marshal with ``loop.call_soon_threadsafe``.
    ``timeout_seconds`` bounds each generation (checked per generated token;
    prompt evaluation itself cannot be interrupted). ``prefix_cache`` and
    ``prompt_lookup_tokens`` default to the environment variables
    :data:`ENV_PREFIX_CACHE` and :data:`ENV_PROMPT_LOOKUP` (on and 0).
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        chat_format: str | None = None,
        n_gpu_layers: int = 0,
        seed: int = 0,
        timeout_seconds: float | None = None,
        prefix_cache: bool | None = None,
        prompt_lookup_tokens: int | None = None,
    ) -> None:
        path = Path(model_path).expanduser()
        self.name = f"gguf:{path.name}"
        self.model_path = path
        self.timeout_seconds = timeout_seconds
        self.prompt_lookup_tokens = _lookup_tokens(prompt_lookup_tokens)
        self._llm = _load(path, n_ctx, n_threads, n_gpu_layers, seed, self.prompt_lookup_tokens)
        # Prompt lookup evaluates drafted tokens past the last accepted one (up to the end
        # of the context, not of max_tokens), and llama-cpp-python writes their logits into
        # a buffer of n_ctx rows: keep two drafts' worth of the window free, so a full prompt
        # plus max_tokens never overruns it (one draft's worth did, in bench/model_speed.py).
        reserve = 2 * (self.prompt_lookup_tokens + 1) if self.prompt_lookup_tokens else 0
        self.context_window: int = int(self._llm.n_ctx()) - reserve
        self.metadata: dict[str, str] = dict(self._llm.metadata)
        try:
            self.chat_format = chat_format_from_metadata(
                self.metadata, chat_format, source=str(path)
            )
        except ValueError as exc:
            raise ModelError(str(exc)) from exc
        self.template = get_template(self.chat_format)
        self._lock = threading.Lock()
        use_cache = _flag(ENV_PREFIX_CACHE, default=True) if prefix_cache is None else prefix_cache
        self.prefix_cache: PrefixCache | None = PrefixCache(self._llm) if use_cache else None

    def count_tokens(self, text: str) -> int:
        """Exact count with the model's tokenizer (special tokens count as one).

        Tokenizing reads only the vocabulary, so it does not take the
        generation lock and never waits behind a running generation.
        """
        return len(self._tokenize(text, add_bos=False))

    def prompt_tokens(self, system: str, user: str) -> list[int]:
        """The token ids ``complete`` would feed the model (for tests and budgets)."""
        return self._prompt(system, user)[0]

    def _prompt(self, system: str, user: str) -> tuple[list[int], int]:
        """The prompt's token ids and how many of them precede the user text.

        That leading part (turn marker and instructions) is the same for every
        call with the same ``system``: the prefix cache's key.
        """
        # Render with placeholders so the template's own markers are tokenized as
        # special tokens while the system and user text are not: a "<end_of_turn>"
        # written inside a patient's note must stay text, never end the user turn.
        prompt = self.template.render(_SYSTEM_SLOT if system else "", _USER_SLOT)
        # A template that writes its own BOS gets none added; others get the
        # model's BOS only if the GGUF asks for one.
        add_bos = "<bos>" not in prompt[:8]
        tokens: list[int] = []
        fixed = 0
        for index, piece in enumerate(_SLOTS.split(prompt)):
            if not piece:
                continue
            if piece == _USER_SLOT:
                fixed = len(tokens)
            if piece in (_SYSTEM_SLOT, _USER_SLOT):
                text = system if piece == _SYSTEM_SLOT else user
                tokens += self._tokenize(text, add_bos=False, special=False)
            else:
                tokens += self._tokenize(piece, add_bos=add_bos and index == 0, special=True)
        return tokens, fixed

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
        """One single-turn generation in a worker thread; see the class docstring.

        Under a schema, ``max_tokens`` is raised to the longest output the grammar admits
        (:func:`~agent.models.grammar.longest_output`) when that is known: an object cut
        off by the budget is invalid whatever the model meant, and the grammar itself
        bounds the generation (it admits nothing after the closing brace).
        """
        if json_schema is not None:
            longest = longest_output(narrow_schema(json_schema))
            if longest is not None:
                max_tokens = max(max_tokens, longest)
        tokens, fixed = self._prompt(system, user)
        if len(tokens) + max_tokens > self.context_window:
            raise ContextOverflow(
                f"The prompt needs {len(tokens)} tokens plus max_tokens={max_tokens}, but "
                f"{self.name} was loaded with a {self.context_window}-token context. "
                "Send fewer facts, lower max_tokens, or load the model with a larger n_ctx."
            )
        cancelled = threading.Event()
        try:
            return await asyncio.to_thread(
                self._generate,
                tokens,
                fixed,
                json_schema,
                max_tokens,
                temperature,
                on_token,
                cancelled,
            )
        except asyncio.CancelledError:
            cancelled.set()  # the worker stops at its next token
            raise

    def _generate(
        self,
        tokens: list[int],
        fixed: int,
        json_schema: dict[str, Any] | None,
        max_tokens: int,
        temperature: float,
        on_token: TokenCallback | None,
        cancelled: threading.Event,
    ) -> Completion:
        with self._lock:
            started = time.perf_counter()
            deadline = None if self.timeout_seconds is None else started + self.timeout_seconds
            state = {"generated": 0, "timed_out": False}

            def should_stop(_ids: Any, _logits: Any) -> bool:
                state["generated"] += 1
                if deadline is not None and time.perf_counter() > deadline:
                    state["timed_out"] = True
                # max_tokens enforced here too: with prompt lookup, llama-cpp-python 0.3.x
                # kept drafting past it to the end of the context and overran its logits
                # buffer (bench/model_speed.py); stopping here ends generation in time.
                over = state["generated"] > max_tokens
                return bool(state["timed_out"]) or cancelled.is_set() or over

            if self.prefix_cache is not None:
                self.prefix_cache.prepare(tokens, fixed)
            text, finish = self._run(
                tokens, json_schema, max_tokens, temperature, should_stop, on_token
            )
            seconds = time.perf_counter() - started
        if state["timed_out"]:
            raise ModelError(
                f"Generation with {self.name} timed out after {self.timeout_seconds:g} s. "
                "Ask for fewer tokens, send a shorter prompt, or raise the timeout."
            )
        visible = strip_thinking(text)
        if json_schema is not None:
            if finish == "length":
                raise InvalidModelOutput(
                    f"{self.name} reached max_tokens={max_tokens} before closing its JSON. "
                    "Raise max_tokens or bound the schema (maxLength, maxItems).",
                    raw=visible,
                )
            parse_json_output(visible, json_schema, source=self.name)
        return Completion(visible, len(tokens), int(state["generated"]), seconds)

    def _run(
        self,
        tokens: list[int],
        json_schema: dict[str, Any] | None,
        max_tokens: int,
        temperature: float,
        should_stop: Any,
        on_token: TokenCallback | None,
    ) -> tuple[str, str | None]:
        """Call llama.cpp; return (raw text, finish reason)."""
        from llama_cpp import StoppingCriteriaList

        kwargs: dict[str, Any] = {
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stop": list(self.template.stop),
            "stopping_criteria": StoppingCriteriaList([should_stop]),
            "grammar": None if json_schema is None else grammar_for_schema(json_schema),
        }
        emitted: list[str] = []

        def forward(piece: str) -> None:
            emitted.append(piece)
            if on_token is not None:
                on_token(piece)

        try:
            return self._complete(tokens, kwargs, forward if on_token else None)
        except ValueError:
            # With prompt lookup, llama-cpp-python 0.3.x can overrun its logits buffer
            # when it evaluates a prompt on top of a reused prefix (seen in
            # bench/model_speed.py). If nothing was streamed yet, start cold, once.
            if not self.prompt_lookup_tokens or emitted:
                raise
            self._llm.reset()
            self._llm._ctx.kv_cache_clear()
            return self._complete(tokens, kwargs, on_token)

    def _complete(
        self, tokens: list[int], kwargs: dict[str, Any], on_token: TokenCallback | None
    ) -> tuple[str, str | None]:
        if on_token is None:
            result = self._llm.create_completion(tokens, **kwargs)
            choice = result["choices"][0]
            return str(choice["text"]), choice.get("finish_reason")
        return _stream(self._llm.create_completion(tokens, stream=True, **kwargs), on_token)

    def _tokenize(self, text: str, *, add_bos: bool, special: bool = True) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special))


def _stream(chunks: Iterator[dict[str, Any]], on_token: TokenCallback) -> tuple[str, str | None]:
    """Forward visible pieces (thinking held back) and collect the raw text."""
    pieces: list[str] = []
    finish: str | None = None
    thinking = ThinkingFilter()
    for chunk in chunks:
        choice = chunk["choices"][0]
        piece = str(choice["text"])
        pieces.append(piece)
        finish = choice.get("finish_reason") or finish
        visible = thinking.feed(piece)
        if visible:
            on_token(visible)
    tail = thinking.flush()
    if tail:
        on_token(tail)
    return "".join(pieces), finish


def _flag(name: str, *, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ModelError(f"{name}={value!r} is not a switch: set it to 1 or 0.")


def _lookup_tokens(explicit: int | None) -> int:
    """Prompt-lookup draft length: the argument, else the environment, else 0 (off)."""
    if explicit is None:
        raw = os.environ.get(ENV_PROMPT_LOOKUP, "").strip() or "0"
        try:
            explicit = int(raw)
        except ValueError:
            raise ModelError(
                f"{ENV_PROMPT_LOOKUP}={raw!r} is not a number: set it to 0 (off) or a "
                f"draft length from 1 to {MAX_PROMPT_LOOKUP_TOKENS}."
            ) from None
    if not 0 <= explicit <= MAX_PROMPT_LOOKUP_TOKENS:
        raise ModelError(
            f"prompt_lookup_tokens={explicit} is out of range: use 0 (off) or 1 to "
            f"{MAX_PROMPT_LOOKUP_TOKENS}."
        )
    return explicit


def _load(
    path: Path,
    n_ctx: int,
    n_threads: int | None,
    n_gpu_layers: int,
    seed: int,
    prompt_lookup_tokens: int = 0,
) -> Any:
    """Open the GGUF, turning every failure into an actionable ModelUnavailable."""
    if not path.is_file():
        raise ModelUnavailable(f"No model file at {path}. {_FIX_HINT}")
    try:
        from llama_cpp import Llama
        from llama_cpp.llama_speculative import LlamaPromptLookupDecoding
    except ImportError as exc:
        raise ModelUnavailable(
            "llama-cpp-python is not installed, so local GGUF models cannot run. "
            "Install it with `pip install 'ehr-agent[agent]'`, or use --model none."
        ) from exc
    try:
        return Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            # All cores by default: generation on a laptop CPU is compute-bound.
            n_threads=n_threads or os.cpu_count() or 1,
            n_gpu_layers=n_gpu_layers,
            seed=seed,
            draft_model=(
                LlamaPromptLookupDecoding(num_pred_tokens=prompt_lookup_tokens)
                if prompt_lookup_tokens
                else None
            ),
            # A draft model needs logits for every position; llama-cpp-python 0.3.x turns
            # that on internally but sizes its logits buffer from this argument (n_batch
            # rows instead of n_ctx), and overran it on long prompts. The cost is real:
            # n_ctx x vocabulary floats of address space (2 GiB at 2048 tokens for Gemma's
            # 262,144-token vocabulary), 1 MiB written per evaluated token.
            logits_all=bool(prompt_lookup_tokens),
            verbose=False,
        )
    except Exception as exc:  # llama.cpp reports a bad file as ValueError or RuntimeError
        raise ModelUnavailable(
            f"Could not load {path} as a GGUF model ({exc}). {_FIX_HINT}"
        ) from exc
