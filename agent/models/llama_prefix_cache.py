"""Keep the KV cache of the fixed start of our prompts, so it is evaluated once.

Why: every model call is one fresh single-turn prompt (see
:mod:`agent.models.base`) whose first part is fixed: the template's turn
marker, the system instructions and, for planning, the tool list. llama.cpp
already reuses a matching prefix of *the previous* evaluation, but the graph
alternates between planning and answering prompts, whose prefixes differ, so
without help every call re-evaluates its instructions. Here each distinct
instruction text keeps a saved KV state of the longest prefix its prompts
have shared so far; before a call the state is restored when the live
context does not already hold it, and llama.cpp evaluates only the rest.

Why not llama-cpp-python's ``LlamaRAMCache``: its ``save_state`` copies the
logits buffer too, which for Gemma's 262,144-token vocabulary is 512 MiB per
save (n_batch rows); here only the sequence's KV cells are saved
(``llama_state_seq_get_data``), a few MiB for a few hundred tokens.

Correctness rests on llama.cpp restoring exactly the evaluated KV cells: a
restored prefix plus the evaluated rest gives the same greedy output as a
cold evaluation (tested in ``tests/agent/models/test_models_llama_speed_options.py``).
Gemma 3's sliding-window layers need the full-size SWA cache for that
(``swa_full``, llama.cpp's default for a context), which the backend keeps.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fhir_client.limits import MAX_PREFIX_STATES, MIN_PREFIX_EXTENSION_TOKENS

__all__ = ["PrefixCache", "common_prefix_length"]

_SEQUENCE = 0  # llama-cpp-python evaluates everything as sequence 0


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    shared = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared += 1
    return shared


@dataclass
class _SavedPrefix:
    tokens: tuple[int, ...]
    state: bytes


@dataclass
class _Slot:
    """What one instruction text has seen: its saved prefix and its last prompt."""

    saved: _SavedPrefix | None = None
    last_prompt: tuple[int, ...] = field(default_factory=tuple)


@dataclass
class PrefixStats:
    """Counts for benches and tests: restores, saves, tokens not re-evaluated."""

    restores: int = 0
    saves: int = 0
    reused_tokens: int = 0


class PrefixCache:
    """Saved KV states of prompt prefixes for one ``llama_cpp.Llama``; not thread-safe.

    The backend calls :meth:`prepare` under its generation lock, right before
    ``create_completion``; llama.cpp's own prefix match then skips the part
    already in the context.
    """

    def __init__(self, llm: Any, *, max_states: int = MAX_PREFIX_STATES) -> None:
        self._llm = llm
        self._slots: OrderedDict[tuple[int, ...], _Slot] = OrderedDict()
        self._max_states = max_states
        self.stats = PrefixStats()

    def prepare(self, tokens: Sequence[int], fixed_length: int) -> None:
        """Make the context hold the longest known prefix of ``tokens``.

        ``fixed_length`` is where the instructions end (the key of the slot).
        The prefix worth keeping is the longer of that and what this prompt
        shares with the previous prompt under the same instructions (the tool
        list, "Evidence:", ...); never the whole prompt, so llama.cpp always
        evaluates at least one token and its logits are fresh.
        """
        if fixed_length <= 0 or len(tokens) < 2:
            return
        key = tuple(tokens[:fixed_length])
        slot = self._slot(key)
        wanted = max(fixed_length, common_prefix_length(slot.last_prompt, tokens))
        wanted = min(wanted, len(tokens) - 1)
        slot.last_prompt = tuple(tokens)
        saved = slot.saved
        usable = saved is not None and common_prefix_length(saved.tokens, tokens) == len(
            saved.tokens
        )
        if saved is not None and usable:
            self._restore_if_better(saved, tokens)
            if len(saved.tokens) + MIN_PREFIX_EXTENSION_TOKENS > wanted:
                return
        # Save a (longer) prefix: evaluate up to `wanted` on top of what the context holds.
        self._evaluate_prefix(tokens[:wanted])
        slot.saved = _SavedPrefix(tuple(tokens[:wanted]), self._save())
        self.stats.saves += 1

    # -- internals ---------------------------------------------------------------------

    def _slot(self, key: tuple[int, ...]) -> _Slot:
        slot = self._slots.pop(key, None) or _Slot()
        self._slots[key] = slot  # most recently used last
        while len(self._slots) > self._max_states:
            self._slots.popitem(last=False)
        return slot

    def _live_prefix(self, tokens: Sequence[int]) -> int:
        llm = self._llm
        return common_prefix_length(llm.input_ids[: llm.n_tokens].tolist(), tokens)

    def _restore_if_better(self, saved: _SavedPrefix, tokens: Sequence[int]) -> None:
        if self._live_prefix(tokens) >= len(saved.tokens):
            self.stats.reused_tokens += len(saved.tokens)
            return  # the context already holds it (llama.cpp keeps the previous prompt)
        self._restore(saved)
        self.stats.restores += 1
        self.stats.reused_tokens += len(saved.tokens)

    def _evaluate_prefix(self, prefix: Sequence[int]) -> None:
        """Evaluate ``prefix``, keeping whatever leading part the context already holds."""
        llm = self._llm
        live = self._live_prefix(prefix)
        if live < llm.n_tokens:
            if live == 0 or not self._remove_from(live):
                llm.reset()
                self._clear()
                live = 0
            llm.n_tokens = live
        llm.eval(list(prefix[live:]))

    def _save(self) -> bytes:
        import llama_cpp

        ctx = self._llm.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, _SEQUENCE)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, _SEQUENCE)
        return bytes(buffer[:written])

    def _restore(self, saved: _SavedPrefix) -> None:
        import llama_cpp

        llm = self._llm
        self._clear()
        buffer = (ctypes.c_uint8 * len(saved.state)).from_buffer_copy(saved.state)
        read = llama_cpp.llama_state_seq_set_data(llm.ctx, buffer, len(saved.state), _SEQUENCE)
        if read == 0:
            # llama.cpp refused the state (it never does for its own): start cold instead.
            llm.reset()
            self._clear()
            return
        count = len(saved.tokens)
        llm.input_ids[:count] = saved.tokens
        llm.n_tokens = count

    def _clear(self) -> None:
        import llama_cpp

        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._llm.ctx), True)

    def _remove_from(self, position: int) -> bool:
        import llama_cpp

        memory = llama_cpp.llama_get_memory(self._llm.ctx)
        return bool(llama_cpp.llama_memory_seq_rm(memory, -1, position, -1))
