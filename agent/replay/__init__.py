"""Replay Synthea patients: questions with answers from the record, scored agent answers.

The pieces, each usable alone::

    from agent.replay import fetch_record, generate_questions, score_answer
    record = await fetch_record(fhir_client, patient_id)      # plain FHIR JSON
    questions = generate_questions(record)                    # ground truth, no tools/
    score = score_answer(questions[0], agent_output_dict)     # correctness, recall, validity

``run_replay`` drives any :class:`Answerer` (an async callable returning the agent's
output contract) with a resumable checkpoint; :mod:`agent.replay.report` aggregates.
Importing this package does not import LangGraph or a model backend
(:mod:`agent.replay.answerer` does).
"""

from agent.replay.ground_truth import CATEGORIES, generate_questions
from agent.replay.model import ExpectedAnswer, ExpectedItem, Question
from agent.replay.questions_file import QuestionsFileError, load_questions_file
from agent.replay.record import PatientRecord, fetch_record
from agent.replay.report import build_report, compare_reports, markdown_summary, summarize
from agent.replay.runner import (
    Answerer,
    Checkpoint,
    PatientQuestions,
    QuestionResult,
    plan_replay,
    run_replay,
)
from agent.replay.scoring import AnswerScore, score_answer

__all__ = [
    "CATEGORIES",
    "AnswerScore",
    "Answerer",
    "Checkpoint",
    "ExpectedAnswer",
    "ExpectedItem",
    "PatientQuestions",
    "PatientRecord",
    "Question",
    "QuestionResult",
    "QuestionsFileError",
    "build_report",
    "compare_reports",
    "fetch_record",
    "generate_questions",
    "load_questions_file",
    "markdown_summary",
    "plan_replay",
    "run_replay",
    "score_answer",
    "summarize",
]
