"""The extractive answer to a yes/no question, and the one statement of what was searched
when the answer is no.

Why a module of its own: "no" is the answer that can lie. It is said only about what was
searched, naming it (the concept resolver's own sentence when it has one, else the
search or list that was read), and a concept nobody understood gets "cannot tell",
never "no". A screening, a test or a care plan that shares the concept's words is no
"yes", nor is a negative finding ("Never smoked tobacco"), and only an active medication
order answers "is she on ...".
"""

from __future__ import annotations

import re

from agent.extractive_evidence import Cite, Retrieved, citation, relevant
from agent.reading import Reading
from agent.reading.shorthand import expand_shorthand
from tools.evidence import Evidence

__all__ = ["absence_statement", "yes_no"]

_CURRENT_WORDS = re.compile(r"\b(?:on|taking|take|takes|currently|current|prescribed)\b")
_YES_LISTED = 30  # a "yes, these" answer lists the matches up to here, then counts the rest
# A screening or test for a disorder is not evidence that the patient has it ("Urine
# screening test for diabetes" is no "yes" to "is she diabetic?").
_SCREENING = re.compile(r"\b(?:screening|screen|test|testing)\b", re.IGNORECASE)
_SCREENING_KINDS = ("Procedure", "Observation", "DiagnosticReport", "Encounter")
_PLAN_WORDS = re.compile(
    r"\b(?:plans?|careplans?|diet|program(?:me)?|\w*therap\w*|rehab\w*|care)\b", re.I
)
_VACCINE_WORDS = re.compile(
    r"\b(?:vaccin\w*|immuni[sz]\w*|shots?|jabs?|boosters?|inoculat\w*|doses?)\b", re.I
)
# A result whose value is a negative finding ("Never smoked tobacco", "Negative", "Urine
# nitrite negative", "Not detected") answers the question the other way: it is no "yes",
# and when it is all there is, the newest one is the "no", cited.
_NEGATIVE_FINDING = re.compile(
    r"\b(?:never|negative|not detected|not present|absent|non-?smoker)\b", re.IGNORECASE
)
# "what is she on for her pressure": a what-question is answered with the list, not "Yes".
_WHAT_QUESTION = re.compile(r"^\s*(?:what|which)\b", re.IGNORECASE)


def absence_statement(found: list[Retrieved], reading: Reading) -> str | None:
    """What was searched, as the search itself reported it; ``None`` if unknowable."""
    for concept in reading.concepts:
        if concept.absence:
            return concept.absence
    for r in found:
        for note in r.result.notes:
            if note.startswith("No ") and r.spec.kind == "concept":
                return note
    for r in found:
        for note in r.result.notes:
            if (
                r.tool == "search_record"
                and note.startswith("No text in the record")
                and not (r.step["arguments"].get("since") or r.step["arguments"].get("until"))
            ):
                # Every word of the whole record (codes, values, notes) was searched:
                # that absence can be stated, with the caveat that a synonym is missed.
                return (
                    note.rstrip(".") + "; the term is not in the vocabularies, so a synonym "
                    "would be missed."
                )
    lists = [r for r in found if r.spec.phrasing.searched is not None]
    if lists and reading.concepts:
        r = lists[0]
        total = r.result.total_available
        total = len(r.result.evidence) if total is None else total
        status = r.step["arguments"].get("status")
        which = f"{status} " if status in ("active", "stopped") else ""
        concept = reading.concepts[0]
        caveat = (
            " (the term is not in the vocabularies, so a synonym would be missed)"
            if concept.found == "not_understood"
            else ""
        )
        return (
            f"None of the {total} {which}{r.spec.phrasing.searched} in this record mentions "
            f"'{concept.phrase}'{caveat}."
        )
    return None


def yes_no(found: list[Retrieved], reading: Reading, cite: Cite, question: str) -> list[str] | None:
    items = relevant(found, reading)
    if not _SCREENING.search(question):  # unless a screening or test is what is asked
        items = [e for e in items if not (e.kind in _SCREENING_KINDS and _SCREENING.search(e.text))]
    if not _VACCINE_WORDS.search(question):
        # A vaccine against a disease is no evidence of having had it ("any hepatitis?"
        # is not answered yes by a Hepatitis A vaccine).
        items = [e for e in items if e.kind != "Immunization"]
    if not _PLAN_WORDS.search(expand_shorthand(question)):  # "had PT?": physiotherapy
        # A care plan ("Diabetes self management plan", written for prediabetes too) is
        # no diagnosis: "is she diabetic?" is not answered yes by it.
        items = [e for e in items if e.kind != "CarePlan"]
    families = set(reading.families) | {c.hint for c in reading.concepts if c.hint}
    current = "medication" in families and _CURRENT_WORDS.search(expand_shorthand(question).lower())
    if current and reading.status != "all":
        # Only medication orders answer "is she on ...": a lab that matched the same
        # words ("sugar" -> glucose) is neither an order nor evidence of one.
        orders = [e for e in items if e.kind.startswith("Medication")]
        active = [e for e in orders if "active" in e.value]
        if not active and orders:
            latest = max(orders, key=lambda e: e.date or "")
            return [
                f"No: none of the matching medication orders is active; the most recent "
                f"was {latest.text} {citation(latest, cite)}."
            ]
        items = active
    negatives = [e for e in items if e.kind == "Observation" and _NEGATIVE_FINDING.search(e.value)]
    items = [e for e in items if e not in negatives]
    if negatives and not items:
        latest = max(negatives, key=lambda e: e.date or "")
        return [f"No: the most recent matching result is {latest.text} {citation(latest, cite)}."]
    if items:
        unique: dict[str, Evidence] = {}
        for item in sorted(items, key=lambda e: e.date or "", reverse=True):
            unique.setdefault(item.label or item.text, item)
        matches = list(unique.values())
        listed = "; ".join(f"{e.text} {citation(e, cite)}" for e in matches[:_YES_LISTED])
        more = len(matches) - _YES_LISTED
        opening = "Yes"
        if _WHAT_QUESTION.search(expand_shorthand(question)) and reading.concepts:
            name = reading.concepts[0].name or reading.concepts[0].phrase
            opening = name[:1].upper() + name[1:]
        return [f"{opening}: {listed}" + (f"; and {more} more (not listed)." if more > 0 else ".")]
    absence = absence_statement(found, reading)
    if absence is None and not reading.concepts:
        return None
    if absence is None:
        phrase = reading.concepts[0].phrase
        return [
            f"I cannot tell: '{phrase}' is not a term the vocabularies or this record know, "
            "so its absence cannot be stated."
        ]
    if _WHAT_QUESTION.search(expand_shorthand(question)) and absence.startswith("No"):
        return [absence]  # "what is he taking for diabetes?" is not answered "No:"
    return [
        f"No: {absence[0].lower()}{absence[1:]}" if absence.startswith("No") else f"No: {absence}"
    ]
