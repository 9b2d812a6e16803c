"""The verifier checks clinical claims, not only numbers and dates (issue 11).

A real 270M GGUF answered "All normal. [Observation/...]" and it was marked verified:
the verifier compared numbers and dates only.  Now qualifiers, negations, topics and
named drugs and conditions must be in the lines a sentence cites, else the sentence is
dropped and the answer says so.
"""

from __future__ import annotations

from agent.citations import DROPPED_NOTE, verify_answer

EVIDENCE = {
    "Observation/tg": "2025-06-01 TG 151 mg/dL",
    "Observation/a1c": "2024-12-24 HbA1c 7.1 % (H)",
    "Condition/dm": "2006-07-05 Diabetes mellitus type 2 active",
    "Condition/htn": "2010-05-01 Hypertension resolved 2015-01-01",
    "MedicationRequest/met": "2024-09-11 metformin 500 MG Oral Tablet active",
    "MedicationRequest/asp": "2019-01-01 aspirin 81 MG Oral Tablet stopped",
    "AllergyIntolerance/pn": "2010-01-01 Allergy Penicillin (medication) crit high",
    "Patient/p": "Patient: Gregoria Allergy: peanut NO active medications, female, born 1970",
}
ALIASES = {str(i + 1): ref for i, ref in enumerate(EVIDENCE)}


def check(draft: str, searched: tuple[str, ...] | None = None):  # type: ignore[no-untyped-def]
    return verify_answer(
        draft,
        resolve=lambda key: ALIASES.get(key) or (key if key in EVIDENCE else None),
        evidence=EVIDENCE,
        searched_topics=searched,
    )


def test_real_gguf_all_normal_citing_a_plain_result_is_dropped_and_said() -> None:
    result = check("All normal. [1]")
    assert "All normal" not in result.text and not result.citations
    assert not result.ok  # nothing supported is left: the graph repairs or falls back
    mixed = check("TG was 151 mg/dL [1]. All normal [1].")
    assert mixed.ok and mixed.text.startswith("TG was 151 mg/dL [Observation/tg].")
    assert "All normal" not in mixed.text and mixed.text.endswith(DROPPED_NOTE)
    assert any("'normal'" in note for note in mixed.notes)


def test_qualifiers_need_their_word_or_flag_in_the_cited_line() -> None:
    assert check("The HbA1c was high at 7.1 % [2].").ok  # "(H)"
    assert check("Her diabetes is active [3].").dropped == []
    assert check("Hypertension was resolved in 2015 [4].").dropped == []
    assert check("Aspirin was stopped [6].").dropped == []
    assert check("Her diabetes is resolved [3].").dropped
    assert check("Her hypertension is active [4].").dropped
    assert check("The HbA1c was normal [2].").dropped
    assert check("The triglycerides were low [1].").dropped


def test_compounds_are_not_findings() -> None:
    assert check("A low-dose aspirin was stopped [6].").dropped == []


def test_negations_need_a_line_that_records_absence_or_an_end() -> None:
    assert check("She no longer takes aspirin [6].").dropped == []  # "stopped"
    assert check("She has no diabetes [3].").dropped
    assert check("Metformin is not active [5].").dropped


def test_negations_about_the_evidence_and_a_leading_no_are_not_clinical_negations() -> None:
    assert check("No, it was high at 7.1 % [2].").dropped == []
    assert check("The record does not show a newer HbA1c; it was 7.1 % [2].").dropped == []
    assert check("There is no later result than 7.1 % [2].").dropped == []
    assert check("No, she has no diabetes [3].").dropped  # the second "no" is a claim


def test_a_patient_line_supports_no_clinical_claim_whatever_its_name_says() -> None:
    """The fake bullets planted in Patient.name: cited to the Patient line, refused."""
    result = check("The patient has NO active medications [8].")
    assert result.dropped and "NO active" not in result.text
    assert check("She has a peanut allergy [8].").dropped


def test_topics_need_a_record_of_that_kind() -> None:
    assert check("She has a penicillin allergy [7].").dropped == []
    assert check("She takes metformin as a medication [5].").dropped == []
    assert check("Her medications include metformin [3].").dropped  # a Condition line


def test_named_drugs_and_conditions_must_be_in_the_cited_lines() -> None:
    assert check("She takes metformin [5].").dropped == []
    assert check("She takes metformin [6].").dropped  # aspirin's line
    assert check("Her hypertension was resolved in 2015 [3].").dropped  # diabetes' line


def test_a_drug_or_condition_nothing_retrieved_names_is_still_a_name() -> None:
    """The 270M model wrote "She takes warfarin [n]" citing another drug's line, and
    "You are a patient with AFib." about a patient with no AFib: curated names (drug
    class ingredients, clinical abbreviations) count even when no evidence holds them."""
    assert check("She takes warfarin [5].").dropped  # metformin's line
    assert check("You are a patient with AFib.").dropped  # uncited, no AFib retrieved
    assert check("She has COPD [3].").dropped  # a diabetes line
    assert check("No warfarin is recorded.", searched=("medication",)).dropped == []
    assert check("Her anticoag is metformin [5].").dropped  # anticoagulant, not metformin


def test_an_abbreviation_is_backed_by_the_wording_it_expands_to() -> None:
    evidence = {"Condition/af": "2019-02-03 Atrial fibrillation active"}
    result = verify_answer(
        "She has AFib [1].",
        resolve=lambda k: "Condition/af" if k == "1" else None,
        evidence=evidence,
    )
    assert result.ok and result.dropped == []


def test_a_model_answer_citing_nothing_must_report_absence() -> None:
    """Uncited, a model's answer may only say what the record does not hold: "You are
    using a model that is not a model." holds a "not" but reports nothing."""
    for draft in (
        "You are using a model that is not a model.",
        "You are a patient of the cardiology department.",
    ):
        for evidence in (EVIDENCE, {}):
            result = verify_answer(
                draft, resolve=lambda key: None, evidence=evidence, require_citations=True
            )
            assert not result.ok, (draft, bool(evidence))
    for draft in (
        "No atrial fibrillation is recorded.",
        "The evidence does not answer the question.",
    ):
        result = verify_answer(draft, resolve=lambda key: None, evidence={}, require_citations=True)
        assert result.ok, draft


def test_uncited_findings_and_absence_of_what_was_not_searched() -> None:
    assert check("All normal.").dropped  # a finding with nothing behind it
    assert check("Active medications in the record:").dropped == []  # a heading
    # Absence: honest only for what a search of this turn looked for.
    assert check("No allergies are recorded.", searched=("allerg",)).dropped == []
    assert check("No medications are recorded.", searched=("allerg",)).dropped
    assert check("No medications are recorded.").dropped == []  # searches unknown
    assert check("She has a penicillin allergy.").dropped  # a clinical fact, uncited


def test_an_uncited_sentence_is_judged_by_the_citation_closing_its_line() -> None:
    """Extractive lines quote record text that may hold sentences; the line's citation
    covers them, and a verdict the line does not hold is dropped with the line."""
    assert check("- Aspirin was stopped. Dose 81 MG [6].").dropped == []
    assert check("- All normal. TG 151 mg/dL [1].").dropped


def test_ordinary_answers_pass_untouched() -> None:
    for draft in (
        "The most recent HbA1c was 7.1 % on 2024-12-24 [2].",
        "Active conditions: Diabetes mellitus type 2 [3]. Hypertension resolved [4].",
        "She takes metformin 500 MG [5]; aspirin was stopped [6].",
        "The evidence does not answer the question.",
    ):
        result = check(draft)
        assert result.ok and not result.dropped, (draft, result.dropped)
