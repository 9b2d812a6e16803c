"""Words that ask who looks after the patient: her doctors, PCP, care team or clinic.

"who's her PCP?", "who is her doctor?", "which doctors has he seen?", "what clinic does
she go to?", "who's on his care team?", "who has been treating her?", "does she have a
GP?": such a question is answered by ``care_team`` (the record's designated primary care
provider, care team members, and who she was seen by), and its span is cut from the text
before the concept phrase is read ("her doctor" names no condition or drug).

What it is not: a question about visits or what a doctor wrote ("doctor's notes", "when
did she last see a doctor?", "how many doctor visits?"), about who ordered or prescribed
something (a prescriber is on the order, not the care team), or whether she saw a kind
of specialist ("did she see a cardiologist?": an encounter question).  Those keep their
own reading.  Apart from :mod:`agent.reading.rules` because it is one pattern with one use.
"""

from __future__ import annotations

import re

__all__ = ["care_team_span"]

# Someone whose designation is the question itself: a PCP is never a visit or a note.
_DESIGNATED = (
    r"(?:pcps?|primary care(?:\s+(?:provider|physician|doctor|clinician|practitioner|team|"
    r"clinic|practice))?s?|gps?|general practitioners?|family (?:doctor|physician|"
    r"practitioner|practice)s?|care[- ]?teams?|treating (?:team|physician|doctor)s?)"
)
_PERSON = (
    r"(?:doctors?|physicians?|providers?|clinicians?|practitioners?|specialists?|consultants?|"
    r"attendings?|nurse practitioners?|care providers?|healthcare providers?)"
    r"(?:'s|\u2019s)?(?:\s+(?:names?|details|contacts?))?"
)
_PLACE = (
    r"(?:clinics?|practices?|health cent(?:er|re)s?|medical cent(?:er|re)s?|facilit(?:y|ies)|"
    r"organi[sz]ations?|hospitals?)"
)
_CARE_VERB = (
    r"(?:sees?|seen|seeing|saw|treats?|treated|treating|looks? after|looking after|looked "
    r"after|follows?|followed|following|manages?|managed|managing|cares? for|caring for|"
    r"takes? care of|taking care of|goes? to|go to|going to|went to|gets? (?:her |his |their )?"
    r"care|receives? (?:her |his |their )?care|is registered|registered|established)"
)
_PRONOUN = r"(?:her|his|their|the patient'?s|pt'?s|patient'?s)"
_CARE_TEAM = re.compile(
    rf"\b{_DESIGNATED}\b"
    rf"|\b(?:who|whom)\b(?:\W+\w+){{0,6}}?\W+(?:{_PERSON}|{_CARE_VERB})\b(?:\W+(?:by|with|at))?"
    rf"|\b(?:which|what|name of|names of)\s+(?:\w+\s+){{0,2}}?(?:{_PERSON}|{_PLACE})\b"
    rf"(?:(?:\W+\w+){{0,6}}?\W+{_CARE_VERB}\b(?:\W+(?:by|with|at))?)?"
    rf"|\bwhere\b(?:\W+\w+){{0,4}}?\W+{_CARE_VERB}\b"
    rf"|\b{_PRONOUN}\s+(?:usual\s+|regular\s+|main\s+|own\s+)?{_PERSON}\b"
    rf"|\bhave\s+(?:a|an|any)\s+(?:regular\s+|usual\s+|main\s+)?{_PERSON}\b"
    rf"|\b(?:list|show|all)\s+(?:of\s+)?(?:{_PRONOUN}\s+)?{_PERSON}\b"
)
# What makes a question about visits, writing, orders or a kind of specialist instead.
_NOT_CARE_TEAM = re.compile(
    r"\b(?:notes?|wr[io]te|written|said|say|says|documented|visits?|appointments?|appts?|"
    r"encounters?|when|last time|how long ago|order(?:ed|s)?|prescrib\w*|refer(?:red|ral)\w*|"
    r"recommend\w*|admitted|admission|diagnos\w*)\b"
    r"|\b(?:see|seen|saw)\s+(?:a|an|any)\s+\w+(?:ist|ian)\b"
)


def care_team_span(text: str) -> tuple[int, int] | None:
    """The span of ``text`` (lower case) that asks who looks after the patient, or None
    when it does not (see the module docstring)."""
    if _NOT_CARE_TEAM.search(text):
        return None
    match = _CARE_TEAM.search(text)
    return match.span() if match is not None else None
