"""The extractive answer to "what labs were done at his last visit?".

Why apart from :mod:`agent.extractive`: the answer is one visit, said first (its day and
type, cited), then the lab results recorded at it, each cited.  When newer visits had
none, the newest of them is named first (the ``visit`` tool lists it second), so "last
visit" is never silently a different one; a record with no lab result at any visit
names the newest visit and says so.  The absence is said as "not recorded", a statement
about the record the verifier accepts next to a citation of the visit.
"""

from __future__ import annotations

from agent.extractive_evidence import Cite, citation
from agent.reading import Reading
from agent.results import result_from_json
from agent.state import StepRecord

__all__ = ["visit_results"]


def visit_results(steps: list[StepRecord], reading: Reading, cite: Cite) -> list[str] | None:
    """The visit's lab results, or ``None`` when no ``visit`` step ran (the per-tool
    sentences then say what went wrong).  The tool lists the visit picked first and,
    when it passed over newer visits without lab results, the newest of those second."""
    step = next((s for s in steps if s["node"] == "act" and s["tool"] == "visit"), None)
    if step is None or step.get("error") or not step.get("result"):
        return None
    result = result_from_json(step["result"])  # type: ignore[arg-type]
    visits = [e for e in result.evidence if e.kind == "Encounter"]
    labs = [e for e in result.evidence if e.kind == "Observation"]
    if not visits:
        return list(result.notes) or None
    which = "first" if reading.ordinal == "first" else "most recent"
    if not labs:
        return [
            f"The {which} visit was on {visits[0].date}: {visits[0].undated_text} "
            f"{citation(visits[0], cite)}; lab results were not recorded at it or at any "
            "other visit in the record."
        ]
    # The visit's "Reason for visit" line cites the visit too: not a visit passed over.
    visit = visits[0]
    passed = [e for e in visits if e.reference != visit.reference][:1]
    lines = [
        f"The {which} visit was on {p.date}: {p.undated_text} {citation(p, cite)}; "
        "lab results were not recorded at it."
        for p in passed
    ]
    with_labs = " with lab results" if passed else ""  # else it is the newest visit itself
    lines += [
        f"The {which} visit{with_labs} was on {visit.date}: {visit.undated_text} "
        f"{citation(visit, cite)}.",
        "Lab results recorded at it:",
        *(f"- {e.text} {citation(e, cite)}" for e in labs),
    ]
    if result.truncated:
        lines.append("Only the first of them are shown; the visit holds more.")
    return lines
