"""The one FHIR id/reference grammar (``fhir_client.ids``) and HumanName rendering
(``fhir_client.names``) that every layer now takes them from."""

from __future__ import annotations

from fhir_client.ids import citations_in, is_fhir_id, is_resource_type, split_reference
from fhir_client.names import display_name, name_texts, plain_name


def test_ids_are_fhir_s_grammar_matched_whole() -> None:
    assert is_fhir_id("ce787016-1e3c-985a-6530-c3136913e74c") and is_fhir_id("a.b-C9")
    assert is_fhir_id("x" * 64) and not is_fhir_id("x" * 65)
    # A trailing newline passed the old ``re.match(r"^...$")`` checks in several modules.
    for bad in ("", "abc\n", "../x", "a/b", "a b", "é", None, 7):
        assert not is_fhir_id(bad), bad
    assert is_resource_type("MedicationRequest")
    assert not is_resource_type("observation") and not is_resource_type("Obs1")


def test_references_and_citations() -> None:
    assert split_reference("Observation/abc") == ("Observation", "abc")
    assert split_reference("https://x/fhir/Patient/p1/_history/2") == ("Patient", "p1")
    assert split_reference("urn:uuid:1234") is None
    answer = "HbA1c 7.0 % [Observation/a-1], then [Observation/b.2]; not [observation/c] [3]."
    assert citations_in(answer) == ["Observation/a-1", "Observation/b.2"]


def test_the_official_name_reads_given_then_family() -> None:
    patient = {
        "name": [
            {"use": "maiden", "given": ["Ann"], "family": "Old1"},
            {"use": "official", "given": ["Milton509", "James"], "family": "Ortiz186"},
        ]
    }
    assert display_name(patient) == "Milton509 James Ortiz186"
    assert plain_name(display_name(patient, given_limit=1)) == "Milton Ortiz"
    assert display_name({"name": [{"text": "Dr. Who"}]}) == "Dr. Who"
    assert display_name({"name": "not a list"}) == "" and display_name({}) == ""
    assert name_texts(patient) == ["Ann Old1", "Milton509 James Ortiz186"]


def test_every_layer_reads_a_human_name_the_same_way() -> None:
    """The question's person check and the loader's practitioner match both render
    HumanNames through ``fhir_client.names`` (before, each had its own loop)."""
    from agent.reading.person import names_match, patient_names
    from fhir_client.loading.references import names_of

    doctor = {
        "resourceType": "Practitioner",
        "name": [{"prefix": ["Dr."], "given": ["Hank686"], "family": "Kertzmann286"}],
    }
    assert name_texts(doctor, with_prefix=True) == [
        "Hank686 Kertzmann286",
        "Dr. Hank686 Kertzmann286",
    ]
    assert name_texts(doctor) == ["Hank686 Kertzmann286"]
    assert {"hank686 kertzmann286", "dr. hank686 kertzmann286"} <= names_of(doctor)
    assert "acme clinic" in names_of({"resourceType": "Organization", "name": "Acme Clinic"})
    patient = {"name": [{"given": ["Milton509"], "family": "Ortiz186", "text": "Milt Ortiz"}]}
    assert patient_names(patient) == ["Milton Ortiz", "Milt Ortiz"]
    assert names_match("Milton Ortiz", patient_names(patient))
    assert not names_match("Edythe Morar", patient_names(patient))
