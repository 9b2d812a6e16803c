"""Patients' records and concept indexes kept across questions, never past a write.

Why: a question that names a concept ("is the diabetes well controlled?") resolves it in
the patient's concept index, built from the whole record (``$everything``).  A toolset
lives for one run, so on a lifetime record every such question paid 6-9 s of CPU to read
and index the record again.  The Assistant keeps that work here instead.

Freshness: an entry is keyed by the patient AND the embedded store's record version
(:meth:`EmbeddedStore.record_version`: the ``$everything`` snapshots' generation, bumped
by this process's writes, with SQLite's ``data_version``, bumped by any other connection's
commit), taken before the record is read, so any write makes every entry unreachable at
once.  A remote server reports no version this code can trust, so there is no cache for
it: each run reads its own record, as before.
Bounded: at most ``RECORD_CACHE_ENTRIES`` records and ``RECORD_CACHE_BYTES`` of estimated
heap, least recently used evicted first, each kept at most ``RECORD_CACHE_SECONDS``
(memory, not freshness: the version sees to that).  An entry's size is estimated once,
when its record has been read (:func:`estimated_bytes`: the record's compact JSON bytes
times ``HEAP_PER_JSON_BYTE``, the heap measured for the record with its concept and text
indexes); a record estimated above the byte bound on its own answers the question that
read it and is not kept.

Shared across event loops: LangGraph's server may run each run on a loop of its own in a
thread of its own, and its process keeps one cache for all of them.  So a kept state's
lock is a :class:`LoopSafeLock` (an ``asyncio.Lock`` belongs to one loop), the cache's
own map is guarded by a thread lock, and :meth:`RecordCache.attach_off_loop` takes the
version (a SQLite query) in a worker thread when the record is first needed, since that
server refuses blocking calls on a loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from types import TracebackType
from typing import Final

from fhir_client.limits import RECORD_CACHE_BYTES, RECORD_CACHE_ENTRIES, RECORD_CACHE_SECONDS
from tools import PatientToolset
from tools.concepts import PatientRecord
from tools.record_tools import RecordState, new_record_state

__all__ = ["HEAP_PER_JSON_BYTE", "LoopSafeLock", "RecordCache", "estimated_bytes"]

_Key = tuple[str, Hashable]
_LOCK_POLL_SECONDS = 0.005

HEAP_PER_JSON_BYTE: Final = 5.0
"""Python heap of a kept entry (the record as dicts, its concept index and text index)
per byte of the record's compact JSON. Measured with tracemalloc
(``bench/record_cache_memory.py --heap``, which prints both): 4.3 to 5.7 on the twelve
fixture records (0.5 to 1.3 MB of JSON each). Sizing by JSON bytes rather than by
resource count keeps a record with large base64 notes from being undercounted."""
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def estimated_bytes(record: PatientRecord) -> int:
    """The heap a kept ``record`` with its indexes is estimated to hold.

    Encodes each resource once (C encoder, ~50 MB/s on one core: ~1 s for a 60 MB
    lifetime record, against tens of seconds to read and index it), so it runs off the
    event loop when the record has been read, never on a cache hit.
    """
    size = sum(len(_ENCODER.encode(r)) for r in record.resources)
    size += sum(len(_ENCODER.encode(r)) for r in record.shared.values())
    return int(size * HEAP_PER_JSON_BYTE)


@dataclass
class _Entry:
    """One kept state: when it was first asked for, and its estimated size (0 until
    its record has been read)."""

    started: float
    state: RecordState
    size: int = 0


class LoopSafeLock:
    """An async lock that runs on any event loop in any thread (``async with``).

    A thread lock taken without blocking, retried with a short sleep while another run
    holds it: the holder is reading a record (seconds), so the poll costs nothing that
    matters, and no loop ever blocks or is bound to the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    async def __aenter__(self) -> None:
        while True:  # an asyncio.Event would belong to one loop, like an asyncio.Lock
            if self._lock.acquire(blocking=False):
                return
            await asyncio.sleep(_LOCK_POLL_SECONDS)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()


class RecordCache:
    """A bounded, aged map from (patient, record version) to that patient's record state."""

    def __init__(
        self,
        version: Callable[[], Hashable],
        *,
        entries: int = RECORD_CACHE_ENTRIES,
        seconds: float = RECORD_CACHE_SECONDS,
        max_bytes: int = RECORD_CACHE_BYTES,
        size_of: Callable[[PatientRecord], int] = estimated_bytes,
    ) -> None:
        self._version = version
        self._entries = entries
        self._seconds = seconds
        self._max_bytes = max_bytes
        self._size_of = size_of
        self._lock = threading.Lock()
        self._kept: OrderedDict[_Key, _Entry] = OrderedDict()

    def state(self, patient_id: str) -> RecordState:
        """The state kept for ``patient_id`` at the current version, or a new empty one
        (kept from now on; the toolset fills it when it first reads the record)."""
        key = (patient_id, self._version())
        now = time.monotonic()
        with self._lock:
            found = self._kept.get(key)
            if found is not None and now - found.started <= self._seconds:
                self._kept.move_to_end(key)
                return found.state
            state = new_record_state()
            state["lock"] = LoopSafeLock()  # the state may be shared by several loops
            state["sized"] = lambda record: self._sized(key, record)
            self._kept[key] = _Entry(now, state)
            self._kept.move_to_end(key)
            for old in [k for k in self._kept if k[0] == patient_id and k != key]:
                del self._kept[old]  # an older version of this record serves no one now
            self._evict()
            return state

    def _sized(self, key: _Key, record: PatientRecord) -> None:
        """Called (off the loop) once the entry's record has been read: note its size,
        drop it if it alone passes the byte bound, evict others until under it."""
        size = self._size_of(record)
        with self._lock:
            entry = self._kept.get(key)
            if entry is None:
                return  # evicted while its record was read
            entry.size = size
            if size > self._max_bytes:
                del self._kept[key]  # answers the question that read it, kept for none
            self._evict()

    def _evict(self) -> None:
        """Least recently used first, until within the count and byte bounds (lock held)."""
        while len(self._kept) > self._entries or (
            len(self._kept) > 1 and self._kept_bytes() > self._max_bytes
        ):
            self._kept.popitem(last=False)

    def _kept_bytes(self) -> int:
        """The estimated heap of the kept entries (lock held)."""
        return sum(entry.size for entry in self._kept.values())

    @property
    def kept_bytes(self) -> int:
        """The estimated heap of the kept entries whose records have been read."""
        with self._lock:
            return self._kept_bytes()

    def attach(self, toolset: PatientToolset) -> PatientToolset:
        """Give ``toolset`` its patient's kept record state; returns it."""
        toolset.share_record(self.state(toolset.patient_id))
        return toolset

    def attach_off_loop(self, toolset: PatientToolset) -> PatientToolset:
        """Like :meth:`attach`, for a loop that may not block: the state (and with it the
        record version) is looked up in a worker thread when the record is first needed,
        still before it is read."""
        patient_id = toolset.patient_id

        async def state() -> RecordState:
            return await asyncio.to_thread(self.state, patient_id)

        toolset.share_record_from(state)
        return toolset

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)
