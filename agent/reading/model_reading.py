"""The model fills the reading's form under a grammar; the rules check every field.

A 4B model is far more reliable filling a small typed form than writing tool calls, and
the form is the same :class:`Reading` the rules fill.  The schema is flat, every field
required, every string bounded by a pattern and a length, every number an ``enum``, so
llama.cpp compiles it to a grammar (see ``agent.planner.schema`` for the converter's
limits).  What the model says is only kept where the question's own words back it: a
concept must be words of the question, a threshold a number in it, a person a name in
it; what the rules read (period, threshold, person, language) always wins.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, get_args

from agent.models.base import ChatModel, Completion, ModelError
from agent.models.json_output import schema_errors
from agent.reading.model import Asks, Concept, Reading, Threshold
from tools.vocabulary import normalize_name

__all__ = ["READING_SCHEMA", "ModelReading", "check_model_reading", "read_with_model"]

_TEXT = "^[A-Za-z0-9 ,.'/+-]{0,40}$"
_NUMBER = "^[0-9]{0,4}([.][0-9]{1,2})?$"
READING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "asks": {"type": "string", "enum": list(get_args(Asks))},
        "concepts": {
            "type": "array",
            "items": {"type": "string", "pattern": _TEXT, "maxLength": 40},
            "maxItems": 3,
        },
        "ordinal": {"type": "string", "enum": ["latest", "first", "none"]},
        "extreme": {"type": "string", "enum": ["highest", "lowest", "none"]},
        "last_n": {"type": "integer", "enum": [0, 1, 2, 3, 4, 5, 10]},
        "threshold_op": {"type": "string", "enum": [">", "<", "none"]},
        "threshold_value": {"type": "string", "pattern": _NUMBER, "maxLength": 7},
    },
    "required": [
        "asks",
        "concepts",
        "ordinal",
        "extreme",
        "last_n",
        "threshold_op",
        "threshold_value",
    ],
    "additionalProperties": False,
}
READING_SYSTEM = (
    "You read a clinician's question about one patient's health record and fill a form. "
    "asks: what kind of answer (value, list, yes_no, count, trend, compare, extreme, "
    "timeline, why, unknown). concepts: the clinical things asked about, in the "
    "question's own words. ordinal, extreme, last_n, threshold: only if the question "
    "says so. Reply with the JSON form only."
)
_MAX_TOKENS = 160


@dataclass
class ModelReading:
    """What the model's form gave, after the checks, and what it cost."""

    reading: Reading
    completions: list[Completion] = field(default_factory=list)
    error: str | None = None


def _words_in(phrase: str, question: str) -> bool:
    words = normalize_name(phrase).split()
    text = f" {normalize_name(question)} "
    return bool(words) and all(f" {w} " in text for w in words)


def check_model_reading(form: dict[str, Any], rules: Reading, question: str) -> Reading:
    """The rules' reading, completed by what the model's form adds and the question backs."""
    update: dict[str, Any] = {}
    if rules.asks in ("unknown", "value") and form.get("asks") in get_args(Asks):
        update["asks"] = form["asks"]
    if not rules.concepts and not rules.flagged and not rules.care_team:  # names no test
        phrases = [p for p in form.get("concepts") or [] if isinstance(p, str)]
        kept = [Concept(phrase=p.strip()[:60]) for p in phrases if _words_in(p, question)]
        if kept:
            update["concepts"] = kept[:4]
    if rules.ordinal is None and form.get("ordinal") in ("latest", "first"):
        update["ordinal"] = form["ordinal"]
    if rules.extreme is None and form.get("extreme") in ("highest", "lowest"):
        update["extreme"] = form["extreme"]
    last_n = form.get("last_n")
    stated = isinstance(last_n, int) and re.search(rf"\b{last_n}\b", question)
    if rules.last_n is None and isinstance(last_n, int) and last_n > 1 and stated:
        update["last_n"] = last_n
    value = str(form.get("threshold_value") or "")
    op = form.get("threshold_op")
    if rules.threshold is None and op in (">", "<") and value and value in question:
        update["threshold"] = Threshold(op=op, value=float(value))
    return rules.model_copy(update=update)


async def read_with_model(model: ChatModel, question: str, rules: Reading) -> ModelReading:
    """One grammar-constrained call; on any failure, the rules' reading unchanged."""
    user = f"Question: {question}\nForm as JSON:"
    try:
        completion = await model.complete(
            READING_SYSTEM, user, json_schema=READING_SCHEMA, max_tokens=_MAX_TOKENS
        )
    except ModelError as error:
        return ModelReading(rules, error=str(error))
    try:
        form = json.loads(completion.text)
    except ValueError as error:
        return ModelReading(rules, [completion], f"the form is not JSON ({error})")
    problems = schema_errors(form, READING_SCHEMA)
    if problems:
        return ModelReading(rules, [completion], "; ".join(problems[:3]))
    return ModelReading(check_model_reading(form, rules, question), [completion])
