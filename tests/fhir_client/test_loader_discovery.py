"""Which files get loaded, and in what order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fhir_client.loading.discovery import BundleKind, classify_bundle, expand_paths, plan_load


def _write(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def _patient_bundle(patient_id: str) -> dict[str, object]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": {"resourceType": "Patient", "id": patient_id}}],
    }


def _practitioner_batch() -> dict[str, object]:
    return {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": {"resourceType": "Practitioner", "id": "p1"}}],
    }


def test_reference_bundles_come_first_whatever_the_argument_order(tmp_path: Path) -> None:
    patients = tmp_path / "patients"
    alice = _write(patients / "Alice.json", _patient_bundle("a"))
    zed = _write(patients / "Zed.json", _patient_bundle("z"))
    hospital = _write(tmp_path / "other" / "hospitalInformation1.json", {"resourceType": "Bundle"})
    # Named like nothing Synthea writes, recognised by content (a Bundle without a Patient).
    directory = _write(tmp_path / "other" / "zz_directory.json", _practitioner_batch())

    plan = plan_load([zed, patients, tmp_path / "other"])

    assert [f.path for f in plan.files] == [
        hospital.resolve(),
        directory.resolve(),
        alice.resolve(),
        zed.resolve(),
    ]
    assert [f.kind for f in plan.files] == [
        BundleKind.REFERENCE_DATA,
        BundleKind.REFERENCE_DATA,
        BundleKind.PATIENT,
        BundleKind.PATIENT,
    ]
    assert plan.total_bytes == sum(p.stat().st_size for p in (alice, zed, hospital, directory))


def test_non_json_files_in_directories_are_skipped_and_counted(tmp_path: Path) -> None:
    bundle = _write(tmp_path / "a.json", _patient_bundle("a"))
    (tmp_path / "a.json.license").write_text("CC0")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "notes.csv").write_text("x")

    found, skipped, explicit = expand_paths([tmp_path, bundle])  # the same file twice

    assert found == [bundle.resolve()]
    assert explicit == {bundle.resolve()}
    assert [p.name for p in skipped] == ["a.json.license", "notes.csv"]


def test_unreadable_files_are_planned_last_not_fatal(tmp_path: Path) -> None:
    truncated = tmp_path / "Broken.json"
    truncated.write_text('{"resourceType": "Bundle", "entry": [')
    metadata = _write(tmp_path / "metadata" / "run.json", {"seed": 1})
    _write(tmp_path / "Good.json", _patient_bundle("g"))
    named = _write(tmp_path / "Patient.json", {"resourceType": "Patient", "id": "x"})

    in_directory = plan_load([tmp_path])
    explicitly = plan_load([named])

    # A truncated bundle is a failure to report; other JSON in a directory is not ours.
    assert [(f.path.name, f.kind) for f in in_directory.files] == [
        ("Good.json", BundleKind.PATIENT),
        (truncated.name, BundleKind.UNREADABLE),
    ]
    assert in_directory.skipped == sorted([metadata.resolve(), named.resolve()])
    # Named on the command line, it is an error the user must see.
    assert [(f.path.name, f.kind) for f in explicitly.files] == [
        ("Patient.json", BundleKind.NOT_A_BUNDLE)
    ]


def test_explicit_paths_must_exist_and_be_json(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        plan_load([tmp_path / "nope.json"])
    license_file = tmp_path / "a.json.license"
    license_file.write_text("CC0")
    with pytest.raises(ValueError, match=r"a\.json\.license: not a \.json file"):
        plan_load([license_file])


def test_classify_by_content() -> None:
    assert classify_bundle(_patient_bundle("a"), "x.json") is BundleKind.PATIENT
    assert classify_bundle(_practitioner_batch(), "x.json") is BundleKind.REFERENCE_DATA
    assert classify_bundle(_patient_bundle("a"), "practitionerInformation9.json") is (
        BundleKind.REFERENCE_DATA
    )
    assert classify_bundle({"resourceType": "Patient"}, "x.json") is BundleKind.NOT_A_BUNDLE
    assert classify_bundle([1, 2], "x.json") is BundleKind.NOT_A_BUNDLE
