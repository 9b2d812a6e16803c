"""The typed reading of one question: what is asked, about what, when, how many.

Made once per turn by the ``route`` node and stored in the graph state, so planning,
the extractive answer and verification read the same interpretation instead of each
parsing the question again.  Rules fill it (:mod:`agent.reading.rules`); with a model,
the model fills the same schema under a grammar and the rules check it
(:mod:`agent.reading.model_reading`).  Every string and list is bounded so the schema
compiles to a grammar a small model cannot run away in.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.reading.allergy import AllergyCategory
from tools.declare import SeriesLimit

__all__ = [
    "Asks",
    "Concept",
    "Family",
    "Reading",
    "ReadingPeriod",
    "Threshold",
]

Asks = Literal[
    "value",  # one value or date: "latest A1c", "when was she born"
    "list",  # everything of a kind: "active medications", "vaccines in 2016"
    "yes_no",  # "is she diabetic?", "pt on any blood thinners?"
    "count",  # "how many visits in 2019", "how many times was A1c above 7"
    "trend",  # "how has her weight changed", "A1c values since 2020"
    "compare",  # "compare the last two LDL values"
    "extreme",  # "highest BP reading", "lowest eGFR"
    "timeline",  # "what happened at the last visit"
    "why",  # "why is she on lisinopril", "why was he seen on 2020-03-02"
    "unknown",
]
Family = Literal[
    "lab",
    "vital",
    "condition",
    "medication",
    "allergy",
    "immunization",
    "encounter",
    "procedure",
    "care_plan",
    "goal",
    "note",
    "demographics",
    "billing",
]
_Date = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", max_length=10)]
_Text = Annotated[str, Field(min_length=1, max_length=60)]


class ReadingPeriod(BaseModel):
    """An inclusive window at day precision, and the words that named it ("in 2016")."""

    model_config = ConfigDict(frozen=True)

    since: _Date
    until: _Date | None = None
    phrase: Annotated[str, Field(max_length=60)] = ""


class Threshold(BaseModel):
    """ "above 7" -> (">", 7.0); "under 60" -> ("<", 60.0)."""

    model_config = ConfigDict(frozen=True)

    op: Literal[">", ">=", "<", "<="]
    value: float

    def holds(self, number: float) -> bool:
        return {
            ">": number > self.value,
            ">=": number >= self.value,
            "<": number < self.value,
            "<=": number <= self.value,
        }[self.op]

    @property
    def words(self) -> str:
        word = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}[self.op]
        return f"{word} {self.value:g}"


class Concept(BaseModel):
    """One thing the question is about, with the family it lives in when known.

    ``name`` is what a tool is asked for ("HbA1c", "hypertension", "clopidogrel");
    ``terms`` are the words whose presence in a record line means a match (a drug
    class's ingredients, a lay term's conditions); ``phrase`` is the question's own
    words, which an answer repeats ("No blood thinners among ...").
    """

    model_config = ConfigDict(frozen=True)

    phrase: _Text
    family: Family | None = None
    name: Annotated[str, Field(max_length=60)] = ""
    terms: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=16)] = []
    found: Literal["vocabulary", "found", "none_found", "not_understood"] = "vocabulary"
    """How the concept was read: a tools vocabulary name, or the record's resolution."""
    absence: Annotated[str, Field(max_length=400)] = ""
    """What was searched when nothing matched, as an answer may say it."""
    hint: Family | None = None
    """The family the question's shape suggests ("does she have X": a condition), used
    when the record resolution cannot place the concept."""


class Reading(BaseModel):
    """What one question asks; see the module docstring."""

    model_config = ConfigDict(frozen=True)

    asks: Asks = "unknown"
    concepts: Annotated[list[Concept], Field(max_length=4)] = []
    families: Annotated[list[Family], Field(max_length=6)] = []
    ordinal: Literal["latest", "first"] | None = None
    last_n: SeriesLimit | None = None
    extreme: Literal["highest", "lowest"] | None = None
    period: ReadingPeriod | None = None
    threshold: Threshold | None = None
    status: Literal["active", "stopped", "resolved", "all"] | None = None
    follow_up: Literal["none", "refers", "before"] = "none"
    person: Annotated[str, Field(max_length=60)] | None = None
    language: Literal["en", "other"] = "en"
    bare: bool = False
    """A bare term without a question word ("AFib?", "plavix?"): asks whether it is there."""
    flagged: bool = False
    """Asks which results are out of range ("any abnormal labs?", "elevated values?"):
    answered from the record's own flags, never from a range this product knows."""
    allergy_category: AllergyCategory | None = None
    """The kind of allergy asked about ("any drug allergies?": medication)."""
    due: bool = False
    """Asks what is due, overdue or up to date ("due for a colonoscopy?"): a schedule the
    record does not hold, so the answer says what was last done and judges nothing."""
    interaction: bool = False
    """Asks whether drugs interact or are contraindicated ("any drug interactions?"): the
    record holds no such check, so the answer says so and lists the orders asked about,
    never "Yes" or "No" (:mod:`agent.reading.interactions`)."""
    judged: bool = False
    """Asks for a clinical judgement ("is his diabetes controlled?", "is her BP well
    managed?"): the record states none, so the answer gives no "Yes" or "No" and shows
    the condition's status and the latest results followed for it
    (:mod:`agent.reading.judgement`)."""
    course: bool = False
    """Asks how something went over time ("how's his cholesterol been", "A1c since
    2019"): a result's dated values, not its latest (:mod:`agent.reading.course`)."""
    care_team: bool = False
    """Asks who looks after the patient ("who's her PCP?", "which doctors has he seen?",
    "what clinic does she go to?"): answered by ``care_team`` from the record's own
    designations, care teams and encounters, never naming a PCP the record does not."""
    visit_results: bool = False
    """Asks for the lab results of one visit ("what labs were done at his last visit?"),
    the last or (with ``ordinal`` first) the first: ``visit(holding="labs")``
    (:mod:`agent.reading.visit_results`)."""

    def family_concepts(self, *families: Family) -> list[Concept]:
        """The concepts in any of ``families``."""
        return [c for c in self.concepts if c.family in families]
