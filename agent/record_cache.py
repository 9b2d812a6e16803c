"""Patients' records and concept indexes kept across questions, never past a write.

Why: a question that names a concept ("is the diabetes well controlled?") resolves it in
the patient's concept index, built from the whole record (``$everything``).  A toolset
lives for one run, so on a lifetime record every such question paid 6-9 s of CPU to read
and index the record again.  The Assistant keeps that work here instead.

Freshness: an entry is keyed by the patient AND the embedded store's record version
(:meth:`EmbeddedStore.record_version`: the ``$everything`` snapshots' generation, bumped
by this process's writes, with SQLite's ``data_version``, bumped by any other connection's
commit), taken before the record is read, so any write makes every entry unreachable at
once.  A remote server's version is its newest history entry (:func:`server_version`:
``GET [base]/_history?_count=1``, one small request per question): history lists newest
first and records deletions as versions too, so any create, update or delete on the
server changes it, which ``_lastUpdated``/``_since`` searches would not show for a
deletion.  Its limits: it is server-wide (a write to any patient drops every kept
record, as on the embedded store); a server without system history, or an error, gives
a version of its own to each question, so nothing is shared (read as without a cache);
an ``$expunge`` of the newest versions could bring an older head back (HAPI's expunge
is off by default and is not a clinical write); two writes in the same millisecond may
tie in the history's order, and then only the bundle's ``total`` (also in the key; HAPI
may serve a cached count) tells them apart.
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
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final

from fhir_client.client import FhirClient
from fhir_client.errors import FhirError
from fhir_client.limits import RECORD_CACHE_BYTES, RECORD_CACHE_ENTRIES, RECORD_CACHE_SECONDS
from tools import PatientToolset
from tools.concepts import PatientRecord
from tools.record_tools import RecordState, new_record_state

__all__ = ["HEAP_PER_JSON_BYTE", "LoopSafeLock", "RecordCache", "estimated_bytes", "server_version"]

logger = logging.getLogger("agent.record_cache")

_Key = tuple[str, Hashable]
_LOCK_POLL_SECONDS = 0.005

HEAP_PER_JSON_BYTE: Final = 5.0
"""Python heap of a kept entry (the record as dicts, its concept index and text index)
per byte of the record's compact JSON. Measured with tracemalloc
(``bench/record_cache_memory.py --heap``, which prints both): 4.3 to 5.7 on the twelve
fixture records (0.5 to 1.3 MB of JSON each); with 5.0 tracemalloc's heap is 0.93-1.14x
the estimate on the two largest fixture records and 0.75-0.86x on two Synthea lifetime
records (4,185 and 4,342 resources, 17 MB bundles), so it errs high as records grow.
Sizing by JSON bytes rather than by resource count keeps a record with large base64
notes from being undercounted."""
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


async def server_version(client: FhirClient) -> Hashable:
    """A remote server's record version: the identity of its newest history entry
    (changes with any write, deletions included; see the module doc). When the server
    cannot say (no system ``_history``, an error), a fresh object: equal to nothing, so
    the question reads its own record and nothing stale is ever served."""
    latest = getattr(client, "latest_history", None)  # a minimal client may lack it
    if latest is None:
        return object()
    try:
        bundle = await latest()
    except FhirError as error:
        logger.info("no server history to key kept records by (%s); not kept", error)
        return object()
    entries = bundle.get("entry") or []
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        return ("empty", bundle.get("total"))  # nothing written yet: the first write shows
    head = entries[0]
    resource = _part(head, "resource")
    meta, request, response = (
        _part(resource, "meta"),
        _part(head, "request"),
        _part(head, "response"),
    )
    return (
        str(head.get("fullUrl")),
        str(meta.get("versionId")),
        str(meta.get("lastUpdated")),
        str(request.get("method")),
        str(request.get("url")),
        str(response.get("etag")),
        str(response.get("lastModified")),
        str(bundle.get("total")),
    )


def _part(element: dict[str, Any], name: str) -> dict[str, Any]:
    found = element.get(name)
    return found if isinstance(found, dict) else {}


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
        version: Callable[[], Hashable] | None = None,
        *,
        remote_version: Callable[[], Awaitable[Hashable]] | None = None,
        entries: int = RECORD_CACHE_ENTRIES,
        seconds: float = RECORD_CACHE_SECONDS,
        max_bytes: int = RECORD_CACHE_BYTES,
        size_of: Callable[[PatientRecord], int] = estimated_bytes,
    ) -> None:
        if (version is None) == (remote_version is None):
            raise ValueError("a RecordCache needs one of version (a store's) or remote_version")
        self._version = version
        self._remote_version = remote_version
        self._entries = entries
        self._seconds = seconds
        self._max_bytes = max_bytes
        self._size_of = size_of
        self._lock = threading.Lock()
        self._kept: OrderedDict[_Key, _Entry] = OrderedDict()

    def state(self, patient_id: str, version: Hashable = None) -> RecordState:
        """The state kept for ``patient_id`` at the current version (the store's, or
        ``version`` as a remote server reported it), or a new empty one (kept from now
        on; the toolset fills it when it first reads the record)."""
        if self._version is not None:
            version = self._version()
        key = (patient_id, version)
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
        """Give ``toolset`` its patient's kept record state; returns it. For a remote
        server the version is asked for when the record is first needed."""
        if self._remote_version is not None:
            return self.attach_off_loop(toolset)
        toolset.share_record(self.state(toolset.patient_id))
        return toolset

    def attach_off_loop(self, toolset: PatientToolset) -> PatientToolset:
        """Like :meth:`attach`, for a loop that may not block: the state (and with it the
        record version) is looked up in a worker thread when the record is first needed,
        still before it is read."""
        patient_id = toolset.patient_id
        remote = self._remote_version

        async def state() -> RecordState:
            # The version: a SQLite query in a worker thread, or an HTTP request on this
            # loop; the lookup takes a thread lock, so it runs in a worker thread too.
            version = await remote() if remote is not None else None
            return await asyncio.to_thread(self.state, patient_id, version)

        toolset.share_record_from(state)
        return toolset

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)
