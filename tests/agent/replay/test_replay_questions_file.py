"""YAML extra questions: what loads, and errors that name the file and entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.replay.questions_file import QuestionsFileError, load_questions_file


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "questions.yaml"
    path.write_text(text)
    return path


def test_valid_file_loads_with_dates_as_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
- patient: p1
  question: "What was the most recent HbA1c and when?"
  expected: {kind: value_date, value: 6.1, date: 2024-09-11}
  references: [Observation/abc]
- patient: p1
  question: Which vaccines?
  category: vaccines
  expected: {kind: set, items: [influenza, {name: tetanus, aliases: [Td]}]}
""",
    )
    first, second = load_questions_file(path)
    assert first.category == "custom" and first.expected.date == "2024-09-11"
    assert first.expected.value == 6.1 and first.expected_references == ("Observation/abc",)
    assert second.category == "vaccines"
    assert [i.names for i in second.expected.items] == [("influenza",), ("tetanus", "Td")]
    assert first.id != second.id


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- patient: p1\n  question: Q\n", "entry 1: missing 'expected'"),
        (
            "- patient: p1\n  question: Q\n  expected: {kind: guess}\n",
            "entry 1: expected.kind 'guess' is not one of",
        ),
        (
            "- patient: p1\n  question: Q\n  expected: {kind: value_date, value: 1}\n",
            "entry 1: expected.kind value_date needs date",
        ),
        (
            "- patient: p1\n  question: Q\n  expected: {kind: date, date: 2024-01-01}\n"
            "  refs: [x]\n",
            "entry 1: unknown key(s) refs",
        ),
        (
            "- patient: p1\n  question: Q\n  expected: {kind: date, date: 2024-01-01}\n"
            "  references: [not-a-reference]\n",
            "'references' must be a list of 'Type/id'",
        ),
        ("patient: p1\n", "expected a list of questions"),
        ("- [unclosed\n", "is not valid YAML"),
    ],
)
def test_errors_name_the_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(QuestionsFileError) as caught:
        load_questions_file(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_repeated_question_is_reported(tmp_path: Path) -> None:
    entry = "- patient: p1\n  question: Q\n  expected: {kind: date, date: 2024-01-01}\n"
    with pytest.raises(QuestionsFileError, match="entry 2 repeats entry 1"):
        load_questions_file(write(tmp_path, entry * 2))
