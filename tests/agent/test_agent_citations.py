"""The verifier: citations resolved against the thread's evidence, numbers and dates grounded."""

from __future__ import annotations

from agent.answer_text import claims_in, normalise_number, split_sentences
from agent.citations import verify_answer

EVIDENCE = {
    "Observation/a": "2024-12-24 HbA1c 7.10 % (H)",
    "Observation/b": "2023-01-02 HbA1c 6.4 %",
    "MedicationRequest/m": "2024-09-11 lisinopril 10 MG Oral Tablet active",
}
ALIASES = {"1": "Observation/a", "2": "Observation/b", "3": "MedicationRequest/m"}


def resolve(key: str) -> str | None:
    return ALIASES.get(key) or (key if key in EVIDENCE else None)


def check(draft: str, allowed: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    return verify_answer(draft, resolve=resolve, evidence=EVIDENCE, allowed_numbers=allowed)


def test_aliases_become_full_references_when_grounded() -> None:
    result = check("The most recent HbA1c was 7.1 % on 2024-12-24 [1].")
    assert result.ok
    assert result.text == "The most recent HbA1c was 7.1 % on 2024-12-24 [Observation/a]."
    assert [(c.reference, c.verified, c.line) for c in result.citations] == [
        ("Observation/a", True, EVIDENCE["Observation/a"])
    ]


def test_full_references_and_grouped_keys_are_accepted() -> None:
    result = check("HbA1c went from 6.4 to 7.1 [Observation/b, 1].")
    assert result.ok and result.cited == ["Observation/b", "Observation/a"]


def test_unretrieved_citation_is_removed_and_left_out_of_citations() -> None:
    result = check("HbA1c was 7.1 % on 2024-12-24 [1][42].")
    assert result.ok  # the sentence is still supported by [1]
    assert "[42]" not in result.text and "[Observation/a]" in result.text
    # Issue 14: a key that named nothing is audited in ``removed`` and the notes, never
    # listed among the answer's citations (citation validity stays 1.00).
    assert [(c.reference, c.verified) for c in result.citations] == [("Observation/a", True)]
    assert [c.key for c in result.removed] == ["42"]
    assert any("[42]" in note for note in result.notes)


def test_sentence_left_without_any_valid_citation_is_a_problem() -> None:
    result = check("The patient has diabetes [42].")
    assert not result.ok and "[42]" in result.problems[0]
    assert result.text == "The patient has diabetes."


def test_number_not_in_cited_evidence_is_caught() -> None:
    result = check("HbA1c was 7.4 % on 2024-12-24 [1].")
    assert result.problems == [
        "The number 7.4 in 'HbA1c was 7.4 % on 2024-12-24 [1].' is not in the evidence it cites."
    ]


def test_number_from_other_evidence_than_the_cited_one_is_caught() -> None:
    assert not check("HbA1c was 6.4 % [1].").ok  # 6.4 is in [2], not in [1]


def test_dates_in_other_formats_are_normalised() -> None:
    assert check("It was 7.1 on December 24, 2024 [1].").ok
    assert check("It was 7.1 on 12/24/2024 [1].").ok
    assert check("It was measured in Dec 2024 [1].").ok
    assert not check("It was 7.1 on December 25, 2024 [1].").ok


def test_uncited_numbers_fail_but_counts_and_question_numbers_pass() -> None:
    assert not check("HbA1c was 7.1.").ok
    assert check("She has 2 results [1][2].").ok  # the number of sources it cites
    assert check("Since 2020 there were 5 visits [1][2].", allowed=("2020", "5")).ok
    assert check("No allergies are recorded.").ok


def test_trailing_citation_after_full_stop_belongs_to_the_sentence() -> None:
    assert split_sentences("HbA1c was 7.1. [1] Next one.") == ["HbA1c was 7.1. [1]", "Next one."]
    assert check("HbA1c was 7.1 on 2024-12-24. [1]").ok


def test_brackets_that_are_not_citations_are_left_alone() -> None:
    result = check("Lisinopril 10 MG [sic] daily [3].")
    assert result.ok and "[sic]" in result.text


def test_number_normalisation() -> None:
    assert [normalise_number(n) for n in ("7.10", "7.0", "007", "1,200", "0.50")] == [
        "7.1",
        "7",
        "7",
        "1200",
        "0.5",
    ]
    dates, numbers = claims_in("BP 112/51 mmHg on 2024-09-11 [Observation/x]")
    assert dates == ["2024-09-11"] and numbers == ["112", "51"]


def test_list_answers_keep_their_lines() -> None:
    draft = "Active medications:\n- 2024-09-11 lisinopril 10 MG Oral Tablet active [3]"
    result = check(draft)
    assert result.ok
    assert result.text.splitlines() == [
        "Active medications:",
        "- 2024-09-11 lisinopril 10 MG Oral Tablet active [MedicationRequest/m]",
    ]


INSTRUCTIONS = ("You answer a clinician's question about one patient using only the evidence",)


def test_sentence_repeating_six_words_of_the_instructions_is_a_problem() -> None:
    echoed = "Answer: one patient using only the evidence lines [1]."
    result = verify_answer(echoed, resolve=resolve, evidence=EVIDENCE, instructions=INSTRUCTIONS)
    assert any("repeats the instructions" in p for p in result.problems)
    five = "Using only the evidence, HbA1c was 7.1 % [1]."
    assert verify_answer(five, resolve=resolve, evidence=EVIDENCE, instructions=INSTRUCTIONS).ok


def test_content_without_any_citation_is_a_problem_when_evidence_exists() -> None:
    assert any("cites no evidence" in p for p in check("The patient has diabetes.").problems)
    assert check("No HbA1c result is in the evidence.").ok  # saying what is missing
    no_evidence = verify_answer("The patient has diabetes.", resolve=resolve, evidence={})
    assert no_evidence.ok
