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
Bounded: at most ``RECORD_CACHE_ENTRIES`` records, least recently used evicted first, each
kept at most ``RECORD_CACHE_SECONDS`` (memory, not freshness: the version sees to that).

Shared across event loops: LangGraph's server may run each run on a loop of its own in a
thread of its own, and its process keeps one cache for all of them.  So a kept state's
lock is a :class:`LoopSafeLock` (an ``asyncio.Lock`` belongs to one loop), the cache's
own map is guarded by a thread lock, and :meth:`RecordCache.attach_off_loop` takes the
version (a SQLite query) in a worker thread when the record is first needed, since that
server refuses blocking calls on a loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from types import TracebackType

from fhir_client.limits import RECORD_CACHE_ENTRIES, RECORD_CACHE_SECONDS
from tools import PatientToolset
from tools.record_tools import RecordState, new_record_state

__all__ = ["LoopSafeLock", "RecordCache"]

_Key = tuple[str, Hashable]
_LOCK_POLL_SECONDS = 0.005


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
    ) -> None:
        self._version = version
        self._entries = entries
        self._seconds = seconds
        self._lock = threading.Lock()
        self._kept: OrderedDict[_Key, tuple[float, RecordState]] = OrderedDict()

    def state(self, patient_id: str) -> RecordState:
        """The state kept for ``patient_id`` at the current version, or a new empty one
        (kept from now on; the toolset fills it when it first reads the record)."""
        key = (patient_id, self._version())
        now = time.monotonic()
        with self._lock:
            found = self._kept.get(key)
            if found is not None and now - found[0] <= self._seconds:
                self._kept.move_to_end(key)
                return found[1]
            state = new_record_state()
            state["lock"] = LoopSafeLock()  # the state may be shared by several loops
            self._kept[key] = (now, state)
            self._kept.move_to_end(key)
            for old in [k for k in self._kept if k[0] == patient_id and k != key]:
                del self._kept[old]  # an older version of this record serves no one now
            while len(self._kept) > self._entries:
                self._kept.popitem(last=False)
            return state

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
