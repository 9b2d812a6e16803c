"""Paged ``$everything`` slices one computed member list, and this process's writes
are seen at once (fhir_client.embedded.snapshots)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fhir_client.embedded import EmbeddedStore


def _observation(oid: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"text": "Glucose"},
        "subject": {"reference": "Patient/p"},
    }


def test_pages_cover_the_record_once_and_a_write_is_seen_at_once(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store.sqlite")
    try:
        store.put_resources([{"resourceType": "Patient", "id": "p"}])
        store.put_resources([_observation(f"o{i}") for i in range(3)])
        first = store.everything("p", count=2, offset=0)
        second = store.everything("p", count=2, offset=2)
        assert first is not None and second is not None
        assert first.total == second.total == 4
        assert len(first.rows) + len(second.rows) == 4
        ids = [resource_id for _, resource_id, _ in first.rows + second.rows]
        assert sorted(ids) == ["o0", "o1", "o2", "p"]

        store.put_resources([_observation("o-new")])
        after = store.everything("p", count=2, offset=2)
        assert after is not None and after.total == 5  # not the 4 of the kept snapshot
        last = store.everything("p", count=2, offset=4)
        assert last is not None and [row[1] for row in last.rows] == ["o-new"]
        assert store.delete("Observation", "o-new")
        gone = store.everything("p", count=2, offset=2)
        assert gone is not None and gone.total == 4
    finally:
        store.close()
