"""Paged reads of one patient's record served from one computed member list.

Why: ``Patient/$everything`` is paged (at most ``EVERYTHING_PAGE_SIZE`` resources a page),
and computing a page meant computing the whole compartment (a UNION over the patient's
references) and counting it again: on a 50,000-resource lifetime record that was 0.8 s a
page, 45 s for the record. The ordered member ids are now computed once and the next
pages slice them. HAPI does the same (it reuses a search's results for 60 s by default).

Freshness: this process's writes clear every snapshot at once; another process's writes
are seen after at most ``EVERYTHING_SNAPSHOT_SECONDS``. A page's rows are always read
fresh by id, so a resource deleted meanwhile is simply absent from its page.

``generation`` counts those clears: it is this process's half of the store's record
version (``EmbeddedStore.record_version``), which anything that keeps what it read from
the store (the Assistant's record cache) is keyed by.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable

from fhir_client.limits import EVERYTHING_SNAPSHOT_ENTRIES, EVERYTHING_SNAPSHOT_SECONDS

__all__ = ["Snapshots"]


class Snapshots:
    """A small, bounded, time-limited map from a read's key to its ordered row ids."""

    def __init__(
        self,
        entries: int = EVERYTHING_SNAPSHOT_ENTRIES,
        seconds: float = EVERYTHING_SNAPSHOT_SECONDS,
    ) -> None:
        self._entries = entries
        self._seconds = seconds
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, tuple[float, list[int]]] = OrderedDict()
        self.generation = 0
        """Bumped by every :meth:`clear`: a read made under an older one may be stale."""

    def get(self, key: Hashable) -> list[int] | None:
        """The ids kept for ``key``, or None when absent or older than the bound."""
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                return None
            taken, ids = found
            if time.monotonic() - taken > self._seconds:
                del self._kept[key]
                return None
            self._kept.move_to_end(key)
            return ids

    def put(self, key: Hashable, ids: list[int]) -> None:
        """Keep ``ids`` for ``key``; the least recently used snapshot goes past the bound."""
        with self._lock:
            self._kept[key] = (time.monotonic(), ids)
            self._kept.move_to_end(key)
            while len(self._kept) > self._entries:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        """Forget every snapshot (this process wrote to the store)."""
        with self._lock:
            self._kept.clear()
            self.generation += 1
