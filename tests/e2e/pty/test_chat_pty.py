"""``ehr-agent chat`` driven through a real pseudo-terminal, as a user would type.

The expected values come from the bundle JSON, not from the agent: the test finds a
patient with at least two HbA1c (LOINC 4548-4) results on different days and expects
the newest, then (for the follow-up "and before that?" in the same thread) the one
before it. The terminal is ``TERM=dumb`` with a fixed 200-column size so prompt_toolkit
prints plain text and the sources table does not fold (this tier's conftest).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "synthea_fixtures" / "fhir"
HBA1C_LOINC = "4548-4"
REMINDER = "not for clinical decisions"
TIMEOUT = 120  # the first command fills the store from the fixtures (about 10 s on 2 cores)


@dataclass(frozen=True)
class Result:
    day: str
    value: float
    reference: str


@dataclass(frozen=True)
class Expected:
    patient_id: str
    family: str
    latest: Result
    previous: Result


def _hba1c(resources: list[dict[str, Any]]) -> list[Result]:
    results = []
    for resource in resources:
        if resource.get("resourceType") != "Observation" or "valueQuantity" not in resource:
            continue
        codes = {c.get("code") for c in resource["code"].get("coding", [])}
        if HBA1C_LOINC in codes:
            results.append(
                Result(
                    day=str(resource["effectiveDateTime"])[:10],
                    value=float(resource["valueQuantity"]["value"]),
                    reference=f"Observation/{resource['id']}",
                )
            )
    return sorted(results, key=lambda r: r.day)


def _expected() -> Expected:
    """A diabetic fixture patient; one whose last two values differ when there is one."""
    candidates: list[Expected] = []
    for path in sorted(FIXTURES.glob("*.json")):
        bundle = json.loads(path.read_text(encoding="utf-8"))
        resources = [entry["resource"] for entry in bundle.get("entry", [])]
        patients = [r for r in resources if r["resourceType"] == "Patient"]
        results = _hba1c(resources)
        if len(patients) != 1 or not results:
            continue
        latest_day = results[-1].day
        earlier = [r for r in results if r.day < latest_day]
        if not earlier or sum(r.day == latest_day for r in results) > 1:
            continue
        previous_day = earlier[-1].day
        if sum(r.day == previous_day for r in earlier) > 1:
            continue
        family = str(patients[0]["name"][0]["family"])
        candidates.append(Expected(patients[0]["id"], family, results[-1], earlier[-1]))
    if not candidates:
        pytest.fail(f"no fixture patient in {FIXTURES} has two HbA1c results on different days")
    return max(candidates, key=lambda e: (e.latest.value != e.previous.value, e.patient_id))


def _numbers(text: str) -> list[float]:
    plain = re.sub(r"\[[^\]]+\]|\d{4}-\d{2}-\d{2}", " ", text)
    return [float(n) for n in re.findall(r"\d+(?:\.\d+)?", plain)]


def _answer_line(transcript: str, question: str) -> str:
    """The answer's first line: the line after the tool call that follows the question."""
    after = transcript.split(question, 1)[1]
    lines = [line.strip() for line in after.splitlines() if line.strip()]
    calls = [i for i, line in enumerate(lines) if line.startswith("→ ")]
    assert calls, transcript
    return lines[calls[-1] + 1]


@pytest.mark.slow
def test_two_questions_in_one_thread_then_sources(
    tmp_path: Path, pexpect: ModuleType, cli_in_pty: Callable[..., Any]
) -> None:
    expected = _expected()
    db = str(tmp_path / "store.sqlite")
    child = cli_in_pty(
        "chat", "--patient", expected.patient_id, "--model", "none", "--db", db, timeout=TIMEOUT
    )
    try:
        child.expect(re.escape(f"{expected.family}> "))
        first = "What was the latest HbA1c?"
        child.send(first + "\r")
        child.expect(REMINDER)
        transcript = child.before
        answer = _answer_line(transcript, first)
        assert expected.latest.day in answer and f"[{expected.latest.reference}]" in answer
        assert any(abs(n - expected.latest.value) < 0.01 for n in _numbers(answer)), answer
        assert "[Observation/" in answer

        child.expect(re.escape(f"{expected.family}> "))
        follow_up = "and before that?"
        child.send(follow_up + "\r")
        child.expect(REMINDER)
        answer = _answer_line(child.before, follow_up)
        assert expected.previous.day in answer and f"[{expected.previous.reference}]" in answer
        assert any(abs(n - expected.previous.value) < 0.01 for n in _numbers(answer)), answer

        child.expect(re.escape(f"{expected.family}> "))
        child.send("/sources\r")
        child.expect("Reference")  # the table's header
        child.expect(re.escape(f"{expected.family}> "))
        table = child.before
        assert expected.previous.reference in table and expected.previous.day in table
        assert expected.latest.reference not in table  # only the last answer's sources

        child.send("/quit\r")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, child.before
    assert (tmp_path / "threads.sqlite").exists()  # the thread store sits next to --db
    history = tmp_path / "data" / "ehr-agent" / "chat_history"
    assert first in history.read_text(encoding="utf-8")
    assert history.stat().st_mode & 0o077 == 0  # questions about a patient: owner only
