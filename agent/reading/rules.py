"""The rule-based reading: a question's words mapped to a :class:`Reading`.

What is asked comes from the question's shape ("how many" counts, "highest" is an
extreme, a question opening with "is"/"does"/"any" is yes/no); the period, the
threshold, the ordinal and "the last N" from their own patterns, each removed from the
text once read, so "the last 6 months" is not a request for the latest result and "above
7" is not a concept.  What remains, without the question's scaffolding, is the concept
phrase; names the tools' vocabulary knows (labs, vitals, vaccines) get their family
here, the rest is resolved against the patient's record by ``route``
(:mod:`agent.reading.resolution`).
"""

from __future__ import annotations

import re
from datetime import date

from agent.reading.allergy import cut_allergy_category
from agent.reading.asks import YES_NO_START, what_is_asked
from agent.reading.asks import has_phrase as _has
from agent.reading.care_team import care_team_span
from agent.reading.course import asks_course, cut_course_words
from agent.reading.flags import cut_flag_words
from agent.reading.interactions import cut_interaction_words, named_parts
from agent.reading.judgement import cut_judgement_words
from agent.reading.language import is_english
from agent.reading.model import Concept, Family, Reading, ReadingPeriod, Threshold
from agent.reading.periods import find_period
from agent.reading.person import named_person
from agent.reading.purpose import purpose_class
from agent.reading.schedule import cut_schedule_words
from agent.reading.shorthand import expand_shorthand
from agent.reading.visit_results import visit_results_asked
from tools.concepts.vocabularies import vocabularies
from tools.vocabulary import (
    OBSERVATION_CONCEPTS,
    VACCINE_GROUPS,
    normalize_name,
)

__all__ = ["read_question"]

_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10}
_LAST_N = re.compile(
    r"\b(?:last|previous|past|recent|latest)\s+(?P<n>\d{1,2}|two|three|four|five|six|ten)\b"
    r"(?!\s*(?:day|week|month|year)s?\b)"
)
_THRESHOLD = re.compile(
    r"(?P<word>above|over|greater than|more than|higher than|exceed(?:ed|ing|s)?|>=|>|"
    r"below|under|less than|lower than|<=|<)\s*(?P<value>\d+(?:\.\d+)?)"
)
_UP = ("above", "over", "greater than", "more than", "higher than", ">", "exceed")
_HIGHEST = ("highest", "max", "maximum", "peak", "worst", "largest", "biggest", "top")
_LOWEST = ("lowest", "min", "minimum", "smallest")
_FIRST = ("first", "earliest", "initial", "oldest")
_LATEST = ("latest", "last", "most recent", "current", "newest", "recent", "lately")
_BEFORE = ("before that", "before this", "prior to that", "previous one", "the one before")
_REFERRING = ("those", "these", "them", "of it", "that one", "which one", "which of")
# Words that shape the question but name no concept.
_SCAFFOLD_TEXT = (
    "a an the of to in on at for and or is was were are be been what when which who how does did "
    "do has have had her his their patient patients pt she he they it its me show tell list give "
    "about with from last latest most recent first ever there this that these those my our your "
    "any currently current taking take takes on why reason happened done summarize summarise "
    "compare highest lowest max maximum min minimum peak worst many much times time number count "
    "often how pls please can you pull up result results value values reading readings level "
    "levels like yes no seen see us get got given hx date dob earliest initial oldest newest "
    "recently lately check checked on record ever been all every since between better worse go "
    "went up down did vs versus trend over changed change s known came come details atm file chart "
    "show shows looking look using brought bring treat treats treating treated i we anything "
    "something anyone should would could must need know aware"
)
# Words the planner reads as a family's status, kind or view, not as a concept.
_GENERIC_TEXT = (
    "active inactive stopped resolved past previous discontinued old age born name gender sex "
    "alive deceased emergency inpatient wellness ambulatory urgent outpatient received receive "
    "gotten taken given severe recorded documented mentioned happen well controlled control "
    "uncontrolled managed under before earlier prior then one therapy treatment diagnosed diagnose "
    "prescribed prescription history explain describe summary overview about status say says said "
    "mention mentions wrote written started start new begun diagnosis diagnoses indication "
    "indications fill filled refill refilled refills dispensed dose doses dosage dosing strength "
    "drawn performed checked"
)
_GENERIC = frozenset(_GENERIC_TEXT.split())
_SCAFFOLD = frozenset(_SCAFFOLD_TEXT.split())
_FAMILY_WORDS: dict[str, Family] = {
    **dict.fromkeys(("med", "meds", "medication", "medications", "drug", "drugs"), "medication"),
    **dict.fromkeys(("prescribed", "prescription", "prescriptions", "ordered"), "medication"),
    **dict.fromkeys(("tablet", "tablets", "tabs", "pill", "pills"), "medication"),
    **dict.fromkeys(("medicine", "medicines"), "medication"),
    **dict.fromkeys(("vaccine", "vaccines", "immunization", "immunizations"), "immunization"),
    **dict.fromkeys(("shot", "shots", "vaccinations", "jab", "jabs"), "immunization"),
    **dict.fromkeys(("visit", "visits", "encounter", "encounters"), "encounter"),
    **dict.fromkeys(("appointment", "appointments", "admission", "admissions"), "encounter"),
    **dict.fromkeys(("stay", "stays", "attendance", "attendances"), "encounter"),
    **dict.fromkeys(("allergy", "allergies", "allergic"), "allergy"),
    **dict.fromkeys(("condition", "conditions", "problem", "problems", "issues"), "condition"),
    **dict.fromkeys(("diagnosis", "diagnoses", "diagnosed"), "condition"),
    **dict.fromkeys(("procedure", "procedures", "surgery", "surgeries"), "procedure"),
    **dict.fromkeys(("note", "notes"), "note"),
    **dict.fromkeys(("born", "birth", "age", "gender", "sex", "dob", "deceased"), "demographics"),
    **dict.fromkeys(("goal", "goals"), "goal"),
    **dict.fromkeys(("careplan", "careplans"), "care_plan"),
    **dict.fromkeys(("bill", "bills", "billing", "claim", "claims", "cost", "costs"), "billing"),
    **dict.fromkeys(("insurance", "insurer", "insurers", "insured", "uninsured"), "billing"),
    **dict.fromkeys(("payer", "payers", "payor", "payors", "coverage"), "billing"),
}
_VACCINE_WORDS = (
    *("vaccine", "vaccines", "vaccinated", "vaccination", "shot", "shots", "jab", "jabs"),
    *("immunization", "immunizations", "immunized", "booster"),
)
# Two-letter names collide with ordinary words and units ("pt", "k", "mg").
_AMBIGUOUS_TEXT = "pt k ca cl na mg cr ef ht wt hr rr tg"
_AMBIGUOUS = frozenset(_AMBIGUOUS_TEXT.split())


def has_words(text: str, *words: str) -> bool:
    """Whole-word (or word-prefix for stems ending in '*') match in normalised text."""
    for word in words:
        stem = word.rstrip("*")
        if stem not in text:
            continue  # cheap test first: compiling every word's pattern costs ~0.1 s a turn
        pattern = rf"\b{re.escape(stem)}" + ("" if word.endswith("*") else r"\b")
        if re.search(pattern, text):
            return True
    return False


def _cut(text: str, span: tuple[int, int]) -> str:
    return text[: span[0]] + " " + text[span[1] :]


def _threshold(text: str) -> tuple[Threshold | None, str]:
    match = _THRESHOLD.search(text)
    if match is None:
        return None, text
    word, value = match.group("word"), float(match.group("value"))
    op = ">" if word.startswith(_UP) else "<"
    if word in (">=", "<="):
        op = word
    return Threshold(op=op, value=value), _cut(text, match.span())


def _last_n(text: str) -> tuple[int | None, str]:
    match = _LAST_N.search(text)
    if match is None:
        return None, text
    raw = match.group("n")
    return (int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]), _cut(text, match.span())


def _observation_concepts(text: str) -> list[Concept]:
    """Labs and vitals the tools' vocabulary names, longest names first."""
    found: list[Concept] = []
    taken: set[str] = set()
    names = sorted(
        ((name, c) for c in OBSERVATION_CONCEPTS for name in (*c.names, c.label)),
        key=lambda pair: -len(pair[0]),
    )
    for name, concept in names:
        key = normalize_name(name)
        plural = len(key) > 2 and _has(text, key + "s")  # "eGFRs", "LDLs"
        if concept.label in taken or len(key) < 2 or key in _AMBIGUOUS:
            continue
        if not _has(text, key) and not plural:
            continue
        if any(key in normalize_name(other.phrase) for other in found):
            continue  # "blood pressure" already read; "pressure" is part of it
        taken.add(concept.label)
        family: Family = "vital" if concept.kind == "vital" else "lab"
        found.append(Concept(phrase=key, family=family, name=concept.names[0]))
    return found


ENCOUNTER_KINDS = ("emergency", "inpatient", "wellness", "ambulatory", "urgent", "outpatient")
"""Kinds of visit the planner passes straight to ``encounters(encounter_type=...)``."""
VISIT_KINDS = ("dental", *ENCOUNTER_KINDS)
"""The same, with the kind a word names only beside a visit word ("dental visits"; a
"dental x-ray" is a procedure): the first one the question names is passed."""
VISIT_WORDS = (
    *("encounter*", "visit*", "appointment*", "admission*", "admitted", "seen"),
    "attendance*",
)
"""Words with which the planner plans the ``encounters`` tool itself."""


# A visit kind the planner passes on (``VISIT_KINDS``) that is no generic word
# elsewhere: "dental procedures" still names a concept.
_DENTAL_VISIT = re.compile(r"\bdental\s+(?=(?:visits?|encounters?)\b)")


def _encounter_setting(text: str) -> str | None:
    """A care setting named in several words ("hospital stays", "ER visits"): the
    phrase the resolver maps to an encounter class (one-word names stay generic, and
    a visit of a kind the planner passes on itself, "ER visits", needs no resolving)."""
    if has_words(text, *ENCOUNTER_KINDS) and has_words(text, *VISIT_WORDS):
        return None
    if not any(w in _FAMILY_WORDS for w in text.split()):
        # "ever been an inpatient?": the setting alone names the visits asked about.
        kind = next((k for k in ENCOUNTER_KINDS if has_words(text, k)), None)
        if kind is not None:
            return kind
    names = sorted(vocabularies().encounter_class_names, key=len, reverse=True)
    return next((n for n in names if len(n.split()) >= 2 and _has(text, n)), None)


def _vaccine(text: str) -> Concept | None:
    for group in VACCINE_GROUPS:
        for name in (*group.names, group.label):
            key = normalize_name(name)
            if len(key) > 2 and _has(text, key):
                return Concept(phrase=key, family="immunization", name=group.names[0])
    return None


_CONDITION_SHAPE = re.compile(
    r"\b(?:have|has|had|history of|hx of|diagnosed|diagnosis|suffer|suffers|known|"
    r"problems?|conditions?)\b"
)
_MEDICATION_SHAPE = re.compile(r"\b(?:on|taking|take|takes|prescribed|using)\b")
_WH = re.compile(r"\b(?:what|when|which|who|how|show|list|give|tell|why|where)\b")
# "high blood pressure", "raised cholesterol": a condition in lay words, not the result.
_LAY_CONDITION = re.compile(
    r"\b(?:high|raised|elevated)\s+(?:blood pressure|bp|cholesterol|blood sugar|sugar)\b"
)


_MEASURE_SHAPE = re.compile(r"\b(?:level|levels|reading|readings|numbers|value|values)\b")


def _lay_condition_concept(match: re.Match[str]) -> list[Concept]:
    """ "raised BP" is read as the lay term "high blood pressure" (hypertension)."""
    noun = match.group(0).split(None, 1)[1]
    noun = {"bp": "blood pressure", "sugar": "blood sugar"}.get(noun, noun)
    return [Concept(phrase=f"high {noun}", hint="condition")]


def _shape_hint(raw: str, asks: str) -> Family | None:
    """The family a question's shape points to, for a concept nobody can place."""
    if _CONDITION_SHAPE.search(raw):
        return "condition"
    if _MEASURE_SHAPE.search(raw) and asks != "yes_no":
        return "lab"
    if asks == "yes_no" and _MEDICATION_SHAPE.search(raw):
        return "medication"
    return None


def _concept_phrase(text: str) -> str:
    words = [
        w
        for w in text.split()
        if w not in _SCAFFOLD
        and w not in _GENERIC
        and _FAMILY_WORDS.get(w) not in ("note", "allergy")  # "allergic to X": X
        and not w.isdigit()
    ]
    return " ".join(words)[:60].strip()


def read_question(question: str, today: date | None = None) -> Reading:
    """The rules' reading of ``question`` (see the module docstring)."""
    if not is_english(question):
        return Reading(language="other")
    question = expand_shorthand(question)
    raw = question.lower()
    period = find_period(question, today)
    text = _cut(raw, period.span) if period else raw
    person = named_person(question)
    if person:
        for word in person.lower().split():
            text = re.sub(rf"\b{re.escape(word)}\d*(?:'s|\u2019s)?", " ", text)
    threshold, text = _threshold(text)
    flagged, text = cut_flag_words(text)  # "abnormal labs" names no test
    due, text = cut_schedule_words(text)  # "vaccines due": the vaccines are the concept
    judged, text = cut_judgement_words(text)  # "diabetes controlled": diabetes
    interaction, text = cut_interaction_words(text)  # "X interact with Y": X, Y
    text = cut_course_words(text) if asks_course(raw) else text  # "weight gone up": weight
    allergy_category, text = cut_allergy_category(text)  # "drug allergies" lists no drugs
    care = care_team_span(text)
    text = _cut(text, care) if care else text  # "her PCP" names no condition or drug
    last_n, text = _last_n(text)
    text = _DENTAL_VISIT.sub(" ", text)  # "dental visits": a kind of visit, no concept
    norm = " " + normalize_name(text) + " "
    extreme = "highest" if _has(norm, *_HIGHEST) else "lowest" if _has(norm, *_LOWEST) else None
    ordinal = "first" if _has(norm, *_FIRST) else "latest" if _has(norm, *_LATEST) else None
    if ordinal is None and re.search(r"\bwhen\b.*\bdiagnos|\bdiagnosed\b.*\bwhen\b", raw):
        ordinal = "first"  # a diagnosis date is the first record of it
    shape = dict[str, object](threshold=threshold, extreme=extreme, last_n=last_n, period=period)
    asks = what_is_asked(raw, norm, shape)
    if asks == "compare" and last_n is None:
        last_n = 2
    lay_condition = _LAY_CONDITION.search(norm)
    if lay_condition and asks != "yes_no" and _WH.search(raw):
        lay_condition = None  # "what is her high BP medication": not asking if she has it
    if lay_condition:
        asks = "yes_no"  # "high cholesterol?", "raised BP on file?": is it diagnosed
    concepts = _lay_condition_concept(lay_condition) if lay_condition else []
    concepts = concepts or _observation_concepts(norm)
    extra = [
        w
        for w in _concept_phrase(norm).split()
        if (w not in _FAMILY_WORDS or _FAMILY_WORDS[w] in ("medication", "condition"))
        and not any(w in c.phrase.split() for c in concepts)
    ]
    if concepts and extra and not lay_condition:
        # "good cholesterol", "sugar level": more than a known name; the record's
        # resolver reads the whole phrase, the known name is the fallback.
        hinted = concepts[0]
        concepts = [Concept(phrase=_concept_phrase(norm), name=hinted.name, hint=hinted.family)]
    setting = _encounter_setting(norm)
    if setting and not concepts:
        concepts = [Concept(phrase=setting)]  # "inpatient stays": resolved to its class
    vaccine = _vaccine(norm)
    if vaccine is not None and _has(norm, *_VACCINE_WORDS):
        concepts = [vaccine]
    families = list(dict.fromkeys(f for w in norm.split() if (f := _FAMILY_WORDS.get(w))))
    if asks == "why" and period is not None and period.since == period.until and not concepts:
        families = families or ["encounter"]  # "reason she came in on 2019-11-12"
    if not concepts:
        phrase = _concept_phrase(norm)
        if asks == "why":
            # "what condition is the metformin treating": the condition is the answer
            # asked for, neither part of the concept nor a list to fetch.
            phrase = " ".join(w for w in phrase.split() if _FAMILY_WORDS.get(w) != "condition")
        leftover = [w for w in phrase.split() if w not in _FAMILY_WORDS]
        if leftover:
            hint = None if asks == "why" else _shape_hint(raw, asks)
            hint = "allergy" if "allergy" in families and hint else hint  # "a sulfa allergy?"
            concepts = [Concept(phrase=phrase, hint=hint)]
    if asks == "why" and concepts:
        families = [f for f in families if f != "condition"]
    if interaction:  # "does lisinopril interact with ibuprofen": each drug on its own
        drugs = [p for part in named_parts(text) if (p := _concept_phrase(normalize_name(part)))]
        if len(drugs) > 1:
            concepts = [Concept(phrase=drug, hint="medication") for drug in drugs]
    # A course over time ("how's his A1c been", "A1c since 2019") is read for results;
    # "has her dose changed?" stays yes/no, and a phrase resolved later to a result
    # reads its course there (``resolve_reading``).
    since = period is not None and period.until is None and asks == "value" and not ordinal
    course = (asks == "trend" and asks_course(raw)) or since
    measured = any(c.family in ("lab", "vital") for c in concepts)
    if asks == "trend" and course and not measured and YES_NO_START.search(raw):
        asks = "yes_no"
    if course and measured and asks in ("value", "list", "yes_no"):
        asks = "trend"
    if judged:  # no yes/no: the status (and, without a model, the results) are shown
        asks = "trend" if course else "value"
    if interaction:  # no yes/no: the orders asked about are listed
        asks, families = "list", ["medication", *families]
    ordinal = None if asks == "trend" else ordinal
    purpose = purpose_class(raw)
    if purpose is not None:
        # "meds for her sugar": the class taken for it, answered yes/no over the orders.
        name = vocabularies().drug_classes[purpose].names[0]
        concepts, families, asks = (
            [Concept(phrase=name, hint="medication")],
            ["medication"],
            "yes_no",
        )
    visit = visit_results_asked(raw)
    if visit is not None:  # "labs at his last visit": that visit's results, no concept
        concepts, families, asks, ordinal = [], ["encounter", "lab"], "list", visit
    status = None
    if _has(norm, "stopped", "discontinued", "past", "previous"):
        status = "stopped"
    if _has(norm, "ever", "history", "all") or period is not None:
        status = "all"
    follow_up = "none"
    if asks == "compare":
        pass  # "latest vs the one before" names its own pair
    elif any(p in raw for p in _BEFORE):
        follow_up = "before"
    elif any(p in f" {raw} " for p in _REFERRING) or raw.startswith("and "):
        follow_up = "refers"
    return Reading(
        asks=asks,
        concepts=concepts[:4],
        families=list(dict.fromkeys([*(c.family for c in concepts if c.family), *families]))[:6],
        ordinal=ordinal,
        last_n=last_n,
        extreme=extreme,
        period=ReadingPeriod(since=period.since, until=period.until, phrase=period.phrase)
        if period
        else None,
        threshold=threshold,
        status=status,
        follow_up=follow_up,
        person=person,
        bare=not _WH.search(raw) and asks == "value" and not ordinal and not period and not judged,
        flagged=flagged,
        due=due,
        judged=judged,
        interaction=interaction,
        course=course,
        allergy_category=allergy_category,
        care_team=care is not None,
        visit_results=visit is not None,
    )
