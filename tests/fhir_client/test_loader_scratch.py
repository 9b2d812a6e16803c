"""What a load must know per entry waits in a temporary SQLite file, not in memory.

Pass one of a load (:mod:`fhir_client.loading.scan`) used to keep each entry's
``Type/id``, fullUrl and identifiers in dicts: ~0.6 KB a resource, 45 MiB for a lifetime
bundle. Checked here on real Synthea entries (the committed fixture patients, merged into
one bundle as a lifetime record would hold them): the scan keeps almost nothing in
Python memory whatever the number of entries, its facts are the file's, and the checks
that need the whole file (an entry twice, an identifier two loaded files carry) still
hold, through the real loader into the real embedded store.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from pathlib import Path
from typing import Any

from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.loading import load_paths
from fhir_client.loading.scan import FileScan, scan_file
from fhir_client.loading.scratch import LoadScratch

FIXTURES = Path(__file__).resolve().parents[2] / "synthea_fixtures" / "fhir"
NPI = "http://hl7.org/fhir/sid/us-npi"


def _patient_entries(count: int) -> list[dict[str, Any]]:
    files = sorted(p for p in FIXTURES.glob("*.json") if "Information" not in p.name)
    entries: list[dict[str, Any]] = []
    for path in files[:count]:
        entries.extend(json.loads(path.read_bytes())["entry"])
    return entries


def _bundle(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}))
    return path


def _retained_by_scan(path: Path, scratch: LoadScratch) -> tuple[int, FileScan]:
    """(bytes of Python memory the scan kept, the scan)."""
    scan_file(path, scratch, validate=False)  # warm the parsers' own caches first
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        scan = scan_file(path, scratch, validate=False)
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return retained, scan


def test_a_scan_keeps_the_entries_facts_out_of_memory(tmp_path: Path) -> None:
    entries = _patient_entries(3)
    path = _bundle(tmp_path / "merged.json", entries)
    with LoadScratch() as scratch:
        retained, scan = _retained_by_scan(path, scratch)
        # Dicts kept ~0.8 MB here (0.34 KB an entry without validation); what stays now
        # is the distinct practitioners' references and the resource type counts.
        assert retained < 200 * 1024
        facts = scan.facts
        assert facts.entries == len(entries)
        for position in (0, len(entries) // 2, len(entries) - 1):
            resource = entries[position]["resource"]
            target = f"{resource['resourceType']}/{resource['id']}"
            assert facts.target_at(position) == target
            assert facts.local[entries[position]["fullUrl"]] == target
        assert facts.target_at(len(entries)) is None
        assert "urn:uuid:not-in-the-file" not in facts.local
        patient = next(e["resource"] for e in entries if e["resource"]["resourceType"] == "Patient")
        identifier = patient["identifier"][0]
        key = f"Patient?identifier={identifier['system']}|{identifier['value']}"
        known, candidate = facts.identifier(key)
        assert known and candidate is not None and candidate.target == f"Patient/{patient['id']}"
        assert sum(scan.counts.values()) == len(entries)


async def test_an_entry_twice_is_named_with_its_first_position(tmp_path: Path) -> None:
    entries = _patient_entries(1)
    path = _bundle(tmp_path / "twice.json", [*entries, entries[3]])
    store = EmbeddedStore(":memory:")
    try:
        async with embedded_client(store) as client:
            report = await load_paths(client, [path])
        (failure,) = report.failures
        assert failure.error is not None and failure.error.entry_index == len(entries)
        resource = entries[3]["resource"]
        assert f"{resource['resourceType']}/{resource['id']} appears twice (first at entry 3)" in (
            failure.error.message
        )
        assert store.is_empty()
    finally:
        store.close()


def _practitioners(path: Path, practitioner_id: str, family: str) -> Path:
    practitioner = {
        "resourceType": "Practitioner",
        "id": practitioner_id,
        "identifier": [{"system": NPI, "value": "9999"}],
        "name": [{"family": family, "given": ["Ann"]}],
    }
    return _bundle(path, [{"fullUrl": f"urn:uuid:{practitioner_id}", "resource": practitioner}])


async def test_an_identifier_two_loaded_files_carry_names_no_one(tmp_path: Path) -> None:
    """The run's identifiers (kept in the scratch file across files) make an NPI that two
    loaded practitioners carry ambiguous, so a later reference to it stays logical."""
    first = _practitioners(tmp_path / "practitionerInformation1.json", "pa", "Ames")
    second = _practitioners(tmp_path / "practitionerInformation2.json", "pb", "Burr")
    entries = _patient_entries(1)
    encounter = next(e for e in entries if e["resource"]["resourceType"] == "Encounter")
    encounter["resource"]["participant"] = [
        {"individual": {"reference": f"Practitioner?identifier={NPI}|9999"}}
    ]
    patient = _bundle(tmp_path / "patient.json", entries)
    store = EmbeddedStore(":memory:")
    try:
        async with embedded_client(store) as client:
            report = await load_paths(client, [first, second, patient])
        assert not report.failures
        stored = store.read("Encounter", encounter["resource"]["id"])
        assert stored is not None
        assert stored["participant"][0]["individual"] == {
            "type": "Practitioner",
            "identifier": {"system": NPI, "value": "9999"},
        }
        assert f"Practitioner?identifier={NPI}|9999" in report.files[-1].unresolved_targets
    finally:
        store.close()
