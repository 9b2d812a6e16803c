"""Extra replay questions from a YAML file, each with its expected answer.

For facts the templates cannot derive (a question about a specific note, a local
phrasing), written by someone who checked the record::

    - patient: 3953a64a-b01f-0722-58ad-0a74c45b52f0
      question: "What was the most recent HbA1c and when?"
      category: custom            # optional, default "custom"
      expected: {kind: value_date, value: 6.1, date: 2024-09-11}
      references: [Observation/abc]   # optional

``expected.kind`` is one of value_date, date, set, number, text_contains, count,
series; ``set`` takes ``items`` (names, or {name, aliases}); ``series`` takes
``points`` ([[date, value], ...]).  Errors name the file and the entry so the author can
fix them without guessing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from agent.replay.model import ANSWER_KINDS, ExpectedAnswer, Question, make_question

__all__ = ["QuestionsFileError", "load_questions_file"]

_KEYS = {"patient", "question", "category", "expected", "references"}


class QuestionsFileError(ValueError):
    """A questions file that cannot be used; the message says where and why."""


def _plain(value: Any) -> Any:
    """YAML turns 2024-09-11 into a date; the replay compares text."""
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _entry(path: Path, index: int, raw: Any) -> Question:
    where = f"{path}: entry {index}"
    if not isinstance(raw, dict):
        raise QuestionsFileError(f"{where}: expected a mapping with patient, question, expected")
    unknown = set(raw) - _KEYS
    if unknown:
        raise QuestionsFileError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"allowed: {', '.join(sorted(_KEYS))}"
        )
    for key in ("patient", "question", "expected"):
        if not raw.get(key):
            raise QuestionsFileError(f"{where}: missing {key!r}")
    expected_raw = _plain(raw["expected"])
    if not isinstance(expected_raw, dict):
        raise QuestionsFileError(
            f"{where}: 'expected' must be a mapping such as {{kind: date, date: 2024-01-31}}"
        )
    if expected_raw.get("kind") not in ANSWER_KINDS:
        raise QuestionsFileError(
            f"{where}: expected.kind {expected_raw.get('kind')!r} is not one of "
            f"{', '.join(ANSWER_KINDS)}"
        )
    try:
        expected = ExpectedAnswer.from_json(expected_raw)
    except (KeyError, TypeError, ValueError) as error:
        raise QuestionsFileError(f"{where}: invalid 'expected': {error}") from error
    _require_fields(where, expected)
    references = raw.get("references") or []
    if not isinstance(references, list) or not all(
        isinstance(r, str) and r.count("/") == 1 for r in references
    ):
        raise QuestionsFileError(f"{where}: 'references' must be a list of 'Type/id' strings")
    patient, text = str(raw["patient"]), str(raw["question"]).strip()
    return make_question(
        patient,
        str(raw.get("category") or "custom"),
        "custom",
        {"question": text},
        text,
        expected,
        references,
    )


def _require_fields(where: str, expected: ExpectedAnswer) -> None:
    needs = {
        "value_date": ("value", "date"),
        "date": ("date",),
        "number": ("value",),
        "count": ("value",),
        "text_contains": ("value",),
    }.get(expected.kind, ())
    missing = [name for name in needs if getattr(expected, name) is None]
    if missing:
        raise QuestionsFileError(
            f"{where}: expected.kind {expected.kind} needs {', '.join(missing)}"
        )
    if expected.kind == "series" and not expected.points:
        raise QuestionsFileError(f"{where}: expected.kind series needs points: [[date, value]]")


def load_questions_file(path: Path) -> list[Question]:
    """The questions in ``path``; raises :class:`QuestionsFileError` on the first problem."""
    # Imported here: PyYAML comes with the agent extra, and `ehr-agent replay` on the core
    # install must get as far as saying so.
    import yaml  # type: ignore[import-untyped]

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise QuestionsFileError(f"cannot read questions file {path}: {error}") from error
    except yaml.YAMLError as error:
        raise QuestionsFileError(f"{path} is not valid YAML: {error}") from error
    if data is None:
        return []
    if not isinstance(data, list):
        raise QuestionsFileError(f"{path}: expected a list of questions at the top level")
    questions = [_entry(path, index, raw) for index, raw in enumerate(data, start=1)]
    seen: dict[str, int] = {}
    for index, question in enumerate(questions, start=1):
        if question.id in seen:
            raise QuestionsFileError(
                f"{path}: entry {index} repeats entry {seen[question.id]} "
                "(same patient and question)"
            )
        seen[question.id] = index
    return questions
