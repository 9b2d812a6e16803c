"""How the loader resolves conditional references, seen from the server's side.

A recording fake stands in for the server here because these tests are
about *which requests* the loader makes (one search per distinct reference,
none for resources loaded earlier in the run); what the data looks like
once stored is tested against the real embedded store elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fhir_client.loading import load_paths

NPI = "http://hl7.org/fhir/sid/us-npi"


class RecordingServer:
    def __init__(self, practitioners: Sequence[dict[str, Any]] = ()) -> None:
        self.stored: dict[str, dict[str, Any]] = {
            f"Practitioner/{p['id']}": p for p in practitioners
        }
        self.searches: list[tuple[str, dict[str, Any]]] = []
        self.transactions: list[dict[str, Any]] = []

    async def search(
        self,
        resource_type: str,
        params: Mapping[str, str | Sequence[str]] | None = None,
        *,
        max_pages: int | None = None,
        max_results: int | None = None,
    ) -> list[dict[str, Any]]:
        self.searches.append((resource_type, dict(params or {})))
        wanted = next(iter((params or {}).get("identifier", [])))
        system, _, value = wanted.partition("|")
        return [
            resource
            for key, resource in self.stored.items()
            if key.startswith(f"{resource_type}/")
            and {"system": system, "value": value} in resource.get("identifier", [])
        ]

    async def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        self.transactions.append(bundle)
        for entry in bundle["entry"]:
            self.stored[entry["request"]["url"]] = entry["resource"]
        return {"resourceType": "Bundle", "type": "transaction-response"}


def _practitioner(practitioner_id: str, npi: str) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": practitioner_id,
        "identifier": [{"system": NPI, "value": npi}],
    }


def _patient_bundle(patient_id: str, npis: Sequence[str]) -> dict[str, Any]:
    encounters = [
        {
            "fullUrl": f"urn:uuid:enc-{patient_id}-{index}",
            "resource": {
                "resourceType": "Encounter",
                "id": f"enc-{patient_id}-{index}",
                "status": "finished",
                "class": {"code": "AMB"},
                "subject": {"reference": f"urn:uuid:{patient_id}"},
                "participant": [
                    {"individual": {"reference": f"Practitioner?identifier={NPI}|{npi}"}}
                ],
            },
        }
        for index, npi in enumerate(npis)
    ]
    patient = {
        "fullUrl": f"urn:uuid:{patient_id}",
        "resource": {"resourceType": "Patient", "id": patient_id},
    }
    return {"resourceType": "Bundle", "type": "transaction", "entry": [patient, *encounters]}


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path


async def test_practitioners_loaded_in_the_run_need_no_search(tmp_path: Path) -> None:
    practitioners = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"fullUrl": "urn:uuid:p1", "resource": _practitioner("p1", "111")}],
    }
    _write(tmp_path / "practitionerInformation1.json", practitioners)
    _write(tmp_path / "A.json", _patient_bundle("a", ["111", "111"]))
    # A namesake left on the server by another Synthea run must not win.
    server = RecordingServer([_practitioner("other-run", "111")])

    report = await load_paths(server, [tmp_path / "A.json", tmp_path])

    assert server.searches == []
    encounter = server.stored["Encounter/enc-a-0"]
    assert encounter["participant"][0]["individual"]["reference"] == "Practitioner/p1"
    assert encounter["subject"] == {"reference": "Patient/a"}
    assert report.unresolved_references == 0
    assert [r.path.name for r in report.files] == ["practitionerInformation1.json", "A.json"]


async def test_each_distinct_reference_is_searched_once_per_run(tmp_path: Path) -> None:
    _write(tmp_path / "A.json", _patient_bundle("a", ["111", "222", "111"]))
    _write(tmp_path / "B.json", _patient_bundle("b", ["111", "333"]))
    server = RecordingServer(
        [_practitioner("p1", "111"), _practitioner("p3", "333"), _practitioner("p3b", "333")]
    )

    report = await load_paths(server, [tmp_path])

    assert sorted(params["identifier"][0] for _, params in server.searches) == [
        f"{NPI}|111",
        f"{NPI}|222",
        f"{NPI}|333",
    ]
    assert server.stored["Encounter/enc-b-0"]["participant"][0]["individual"] == {
        "reference": "Practitioner/p1"
    }
    # 222 is nowhere; 333 matches two practitioners: both stay logical references.
    assert server.stored["Encounter/enc-b-1"]["participant"][0]["individual"] == {
        "type": "Practitioner",
        "identifier": {"system": NPI, "value": "333"},
    }
    assert report.unresolved_references == 2
    assert [r.unresolved_targets for r in report.files] == [
        (f"Practitioner?identifier={NPI}|222",),
        (f"Practitioner?identifier={NPI}|333",),
    ]
    # One PUT transaction per file, ids as written.
    assert [
        [entry["request"] for entry in bundle["entry"]][:1] for bundle in server.transactions
    ] == [[{"method": "PUT", "url": "Patient/a"}], [{"method": "PUT", "url": "Patient/b"}]]


async def test_an_npi_reused_by_another_synthea_run_is_not_taken_for_this_doctor(
    tmp_path: Path,
) -> None:
    """Synthea restarts NPIs each run: the display must agree before we link."""
    bundle = _patient_bundle("a", ["111", "222"])
    bundle["entry"][1]["resource"]["participant"][0]["individual"]["display"] = "Dr. Ann Lee"
    bundle["entry"][2]["resource"]["participant"][0]["individual"]["display"] = "Dr. Bo Kim"
    _write(tmp_path / "A.json", bundle)
    on_server = [_practitioner("ann", "111"), _practitioner("someone-else", "222")]
    on_server[0]["name"] = [{"family": "Lee", "given": ["Ann"], "prefix": ["Dr."]}]
    on_server[1]["name"] = [{"family": "Vance", "given": ["Cy"], "prefix": ["Dr."]}]
    server = RecordingServer(on_server)

    report = await load_paths(server, [tmp_path])

    participants = [
        server.stored[f"Encounter/enc-a-{i}"]["participant"][0]["individual"] for i in (0, 1)
    ]
    assert participants[0] == {"reference": "Practitioner/ann", "display": "Dr. Ann Lee"}
    assert participants[1] == {
        "display": "Dr. Bo Kim",
        "type": "Practitioner",
        "identifier": {"system": NPI, "value": "222"},
    }
    assert report.unresolved_references == 1
