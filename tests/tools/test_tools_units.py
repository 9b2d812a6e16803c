"""Fast tests of the pieces under the tools: vocabulary, lines, series, schemas, notes."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tools import TOOLS, Evidence, EvidenceSeries, collapse_series, format_resource
from tools.evidence import ReferenceAliases, render_items
from tools.notes import find_snippets, note_text
from tools.schemas import TOOL_SCHEMAS, ToolArgumentError, validate_arguments
from tools.vocabulary import find_observation_concept, find_vaccine_group


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("A1c", "4548-4"),
        ("HbA1c", "4548-4"),
        ("hemoglobin a1c", "4548-4"),
        ("Haemoglobin A1c", "4548-4"),
        ("HEMOGLOBIN-A1C", "4548-4"),
        ("blood pressure", "85354-9"),
        ("systolic", "85354-9"),
        ("LDL", "18262-6"),
        ("total cholesterol", "2093-3"),
        ("eGFR", "33914-3"),
        ("creatinine", "38483-4"),
        ("glucose", "2339-0"),
        ("BMI", "39156-5"),
        ("weight", "29463-7"),
        ("8480-6", "85354-9"),
    ],
)
def test_clinician_names_find_loinc_codes(name: str, code: str) -> None:
    concept = find_observation_concept(name)
    assert concept is not None and code in concept.codes


def test_unknown_name_has_no_concept() -> None:
    assert find_observation_concept("HIV viral load PCR local") is None


def test_vaccine_names() -> None:
    flu = find_vaccine_group("Flu shot")
    assert flu is not None and "140" in flu.cvx_codes
    assert find_vaccine_group("tdap") is not None
    assert find_vaccine_group("unknown vaccine") is None


def _observation(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "abc",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "effectiveDateTime": "2023-04-02T10:00:00+00:00",
        **extra,
    }


def test_lab_line_is_date_name_value_unit_flag_and_reference() -> None:
    resource = _observation(
        valueQuantity={"value": 6.4000001, "unit": "%"},
        interpretation=[{"coding": [{"code": "H"}]}],
    )
    evidence = format_resource(resource)
    assert evidence.line == "2023-04-02 HbA1c 6.4 % (H) [Observation/abc]"
    assert evidence.resource is resource
    assert "resource" not in repr(evidence)


def test_blood_pressure_line_and_unusual_status() -> None:
    component = [
        {"code": {"coding": [{"system": "http://loinc.org", "code": c}]}, "valueQuantity": v}
        for c, v in (("8480-6", {"value": 128, "unit": "mm[Hg]"}), ("8462-4", {"value": 82}))
    ]
    resource = _observation(
        code={"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        component=component,
        status="preliminary",
    )
    assert format_resource(resource).text == "2023-04-02 BP 128/82 mmHg preliminary"


def test_snomed_semantic_tags_are_dropped() -> None:
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "code": {"text": "Essential hypertension (disorder)"},
        "clinicalStatus": {"coding": [{"code": "resolved"}]},
        "onsetDateTime": "2010-05-01",
        "abatementDateTime": "2012-01-01",
    }
    assert (
        format_resource(condition).text == "2010-05-01 Essential hypertension resolved 2012-01-01"
    )


def test_series_collapses_repeats_and_keeps_every_reference() -> None:
    points = [
        Evidence(f"Observation/{i}", f"{d} HbA1c {v} %", d, "Observation", "HbA1c", f"{v} %")
        for i, (d, v) in enumerate([("2020-01-01", 6.1), ("2019-01-01", 5.9), ("2021-01-01", 7)])
    ]
    (series,) = collapse_series(points, min_points=3)
    assert isinstance(series, EvidenceSeries)
    assert series.line == (
        "HbA1c (%): 2019-01-01 5.9 [Observation/1], 2020-01-01 6.1 [Observation/0], "
        "2021-01-01 7 [Observation/2]"
    )
    assert series.references == ("Observation/1", "Observation/0", "Observation/2")
    assert collapse_series(points[:2], min_points=3) == points[:2]


def _strings_and_arrays(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    if schema.get("type") in ("string", "array"):
        found.append(schema)
    for child in schema.get("properties", {}).values():
        found.extend(_strings_and_arrays(child))
    if "items" in schema:
        found.extend(_strings_and_arrays(schema["items"]))
    return found


@pytest.mark.parametrize("tool", sorted(TOOL_SCHEMAS))
def test_every_schema_is_bounded_and_closed(tool: str) -> None:
    schema = TOOL_SCHEMAS[tool]
    assert schema["additionalProperties"] is False
    for node in _strings_and_arrays(schema):
        if node["type"] == "string":
            assert "maxLength" in node
        else:
            assert "maxItems" in node
    for prop in schema["properties"].values():
        if prop["type"] == "integer":
            assert "minimum" in prop and "maximum" in prop
    assert TOOLS[tool].description and len(TOOLS[tool].description) < 500


def test_billing_is_off_by_default() -> None:
    assert not TOOLS["billing"].enabled_by_default
    assert TOOLS["lab_results"].enabled_by_default


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("lab_results", {}, "missing required"),
        ("lab_results", {"name": "x" * 61}, "longer than 60"),
        ("lab_results", {"name": "A1c", "since": "last year"}, "YYYY"),
        ("lab_results", {"name": "A1c", "limit": 500}, "between 1 and 50"),
        ("lab_results", {"name": "A1c", "patient": "other"}, "unknown argument"),
        ("clinical_notes", {"keywords": ["a"] * 6}, "more than 5"),
        ("vital_signs", {"name": "cholesterol"}, "must be one of"),
        ("nope", {}, "unknown tool"),
    ],
)
def test_invalid_arguments_are_refused_with_a_reason(
    tool: str, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ToolArgumentError, match=message):
        validate_arguments(tool, arguments)


def test_note_snippets_around_keywords() -> None:
    text = "Chief complaint: cough.\n" + "filler " * 80 + "Started metformin 500 mg daily. " * 2
    note = {
        "resourceType": "DocumentReference",
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(text.encode()).decode(),
                }
            }
        ],
    }
    decoded = note_text(note)
    assert decoded == text
    (snippet,) = find_snippets(decoded, ["Metformin"])
    assert "metformin 500 mg" in snippet.text and len(snippet.text) <= 202
    assert find_snippets(decoded, ["insulin"]) == []
    assert find_snippets(decoded, [])[0].text.startswith("Chief complaint")


def test_same_day_records_share_one_dated_line_and_aliases_resolve() -> None:
    days = ["2024-01-02", "2024-01-02", "2023-05-06"]
    items = [
        Evidence(f"Procedure/p{i}", f"{d} Procedure {i}", d, "Procedure", f"Procedure {i}")
        for i, d in enumerate(days)
    ]
    aliases = ReferenceAliases()
    assert render_items(items, aliases.cite) == [
        "2024-01-02: Procedure 0 [1]; Procedure 1 [2]",
        "2023-05-06 Procedure 2 [3]",
    ]
    assert aliases.resolve("[2]") == "Procedure/p1"
    assert aliases.resolve("99") is None


def test_benchmark_measures_every_non_billing_resource(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "evidence_tokens", Path(__file__).resolve().parents[2] / "bench" / "evidence_tokens.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    observation = _observation(valueQuantity={"value": 6.4, "unit": "%"})
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            {"resource": observation},
            {"resource": {"resourceType": "Claim", "id": "c"}},
        ],
    }
    (tmp_path / "patient.json").write_text(json.dumps(bundle))
    results = bench.measure([tmp_path], lambda text: len(text.split()))
    assert results["overall"]["resources"] == 2  # the Claim is left out
    assert set(results["per_type"]) == {"Patient", "Observation"}
    assert "ALL" in bench.report(results)


def test_date_windows_are_sent_at_day_precision() -> None:
    """Partial dates widen to whole days, so ge/le mean the same on HAPI and the embedded store."""
    from tools.matching import date_params

    assert date_params("2021", "2024-02") == {"date": ["ge2021-01-01", "le2024-02-29"]}
    assert date_params("2023-06", "2023") == {"date": ["ge2023-06-01", "le2023-12-31"]}
    assert date_params("2020-05-17", None) == {"date": ["ge2020-05-17"]}
    assert date_params(None, None) == {}


def test_egfr_unit_keeps_its_body_surface_normalisation() -> None:
    from tools.fhir_text import format_quantity

    egfr = {"value": 131.86, "unit": "mL/min/{1.73_m2}", "code": "mL/min/{1.73_m2}"}
    assert format_quantity(egfr) == "131.86 mL/min/1.73m2"
    assert format_quantity({"value": 2, "unit": "mg/{dose}/"}) == "2 mg"
