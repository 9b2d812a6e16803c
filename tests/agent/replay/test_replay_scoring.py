"""The replay scorer on hand-made answers: right, wrong, partial and hallucinated."""

from __future__ import annotations

from typing import Any

from agent.replay.model import ExpectedAnswer, ExpectedItem, Question, make_question
from agent.replay.scoring import score_answer

A1C = "Observation/a1c-2"


def question(expected: ExpectedAnswer, refs: tuple[str, ...] = (A1C,)) -> Question:
    return make_question("p1", "latest_lab", "t", {"n": str(expected)}, "Q?", expected, refs)


def output(
    answer: str, cited: list[tuple[str, bool]] | None = None, evidence: list[str] | None = None
) -> dict[str, Any]:
    return {
        "answer": answer,
        "citations": [{"reference": r, "verified": v, "line": None} for r, v in cited or []],
        "evidence": [{"reference": r, "line": "x"} for r in evidence or []],
    }


LATEST = question(ExpectedAnswer("value_date", value="7.1", date="2024-03-30"))


def test_right_value_and_date_with_a_verified_citation() -> None:
    score = score_answer(
        LATEST,
        output(f"The most recent HbA1c was 7.10 % on 2024-03-30 [{A1C}].", [(A1C, True)], [A1C]),
    )
    assert score.answer_correct and score.problems == []
    assert (score.evidence_recall, score.citation_validity, score.citation_recall) == (1, 1, 1)


def test_wrong_value_is_scored_wrong_even_when_cited() -> None:
    score = score_answer(
        LATEST,
        output(f"The most recent HbA1c was 8.4 % on 2024-03-30 [{A1C}].", [(A1C, True)], [A1C]),
    )
    assert not score.answer_correct
    assert score.problems == ["value 7.1 not stated"]
    assert score.citation_validity == 1.0  # the citation is fine; the fact is not


def test_wrong_date_and_rounding_rules() -> None:
    assert not score_answer(LATEST, output("7.1 % on 2023-03-30")).answer_correct
    assert score_answer(LATEST, output("7.1 % on Mar 30, 2024")).answer_correct
    assert score_answer(LATEST, output("7.1 % on 30 March 2024")).answer_correct
    rounded = question(ExpectedAnswer("value_date", value="7.14", date="2024-03-30"))
    assert score_answer(rounded, output("7.1 % (2024-03-30)")).answer_correct
    big = question(ExpectedAnswer("value_date", value="202.16", date="2024-03-30"))
    assert not score_answer(big, output("202 mg/dL on 2024-03-30")).answer_correct
    bp = question(ExpectedAnswer("value_date", value="112/51", date="2024-09-11"))
    assert score_answer(bp, output("BP 112/51 mmHg on 2024-09-11")).answer_correct
    assert not score_answer(bp, output("BP 112/61 mmHg on 2024-09-11")).answer_correct


def test_hallucinated_citations_are_invalid() -> None:
    fake = "Observation/made-up"
    answer = f"HbA1c 7.1 on 2024-03-30 [{A1C}] [{fake}]."
    score = score_answer(LATEST, output(answer, [(A1C, True), (fake, False)], [A1C]))
    assert score.citation_validity == 0.5 and score.invalid_citations == [fake]
    # Inline in the text but missing from the citation list: never verified, so invalid.
    inline = score_answer(LATEST, output(answer, [(A1C, True)], [A1C]))
    assert inline.citation_validity == 0.5 and inline.invalid_citations == [fake]
    # Marked verified by the agent, but no such resource in the patient's record.
    forged = score_answer(LATEST, output(answer, [(A1C, True), (fake, True)]), {A1C})
    assert forged.citation_validity == 0.5


def test_no_citation_is_not_a_perfect_validity() -> None:
    score = score_answer(LATEST, output("HbA1c 7.1 on 2024-03-30.", [], [A1C]))
    assert score.answer_correct
    assert score.citations == 0 and score.citation_validity is None
    assert score.citation_recall == 0.0 and score.evidence_recall == 1.0


MEDS = question(
    ExpectedAnswer(
        "set",
        items=(
            ExpectedItem("lisinopril 10 MG Oral Tablet"),
            ExpectedItem("insulin isophane 70 UNT/ML [Humulin]", ("Humulin",)),
        ),
        allowed_references=("MedicationRequest/a", "MedicationRequest/b"),
    ),
    ("MedicationRequest/a", "MedicationRequest/b"),
)


def test_sets_partial_complete_and_exclusive() -> None:
    partial = score_answer(
        MEDS,
        output(
            "Lisinopril 10 mg daily [MedicationRequest/a]",
            [("MedicationRequest/a", True)],
            ["MedicationRequest/a"],
        ),
    )
    assert not partial.answer_correct
    assert partial.problems == ["missing 'insulin isophane 70 UNT/ML [Humulin]'"]
    assert partial.evidence_recall == 0.5 and partial.citation_recall == 0.5
    full = score_answer(MEDS, output("lisinopril 10 mg; Humulin 70/30"))
    assert full.answer_correct
    wrong_dose = score_answer(MEDS, output("lisinopril 20 mg; Humulin"))
    assert not wrong_dose.answer_correct
    stopped = score_answer(
        MEDS,
        output(
            "lisinopril 10 mg [MedicationRequest/a]; Humulin [MedicationRequest/b]; "
            "metformin [MedicationRequest/old]",
            [
                ("MedicationRequest/a", True),
                ("MedicationRequest/b", True),
                ("MedicationRequest/old", True),
            ],
        ),
    )
    assert not stopped.answer_correct
    assert stopped.problems == ["lists MedicationRequest/old, which does not belong in the answer"]


def test_empty_set_needs_an_explicit_none_and_no_citation() -> None:
    none = question(ExpectedAnswer("set", items=(), allowed_references=()), ())
    assert score_answer(none, output("No active allergies are recorded.")).answer_correct
    assert not score_answer(none, output("Penicillin allergy.")).answer_correct
    cited = output("No allergies [AllergyIntolerance/x]", [("AllergyIntolerance/x", True)])
    assert not score_answer(none, cited).answer_correct


def test_counts_dates_text_and_series() -> None:
    count = question(ExpectedAnswer("count", value=7.0))
    assert score_answer(count, output("The patient had seven encounters in 2023.")).answer_correct
    assert score_answer(count, output("7 encounters in 2023 [Encounter/e1].")).answer_correct
    listing = "Encounters in the record:\n- 2023-07-01 visit, 7 days"
    assert not score_answer(count, output(listing)).answer_correct
    gender = question(ExpectedAnswer("text_contains", value="male"))
    assert not score_answer(gender, output("The patient is female.")).answer_correct
    assert score_answer(gender, output("Male, born 1970.")).answer_correct
    series = question(ExpectedAnswer("series", points=(("2024-01-01", 6.5), ("2024-06-01", 7.0))))
    assert score_answer(series, output("6.5 on 2024-01-01, then 7 on 2024-06-01")).answer_correct
    assert not score_answer(series, output("6.5 on 2024-01-01")).answer_correct
