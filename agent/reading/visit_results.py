"""Words that ask for the results of one visit: "what labs were done at his last visit?".

"labs from the most recent encounter", "what was checked at her last appointment",
"results from the last visit", "last visit's bloods": the lab results recorded at that
visit, not the newest result of every test (a PSA from three years before is no result
of last month's visit).  A visit with no lab result (a sinusitis visit) answers nothing,
so the ``visit`` tool picks the newest visit that has any and says what it passed over.
Read by the shape "results word ... at/from the last visit" (or "last visit's labs");
apart from :mod:`agent.reading.rules` because it is one pattern with one use.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["visit_results_asked"]

_RESULTS = (
    r"(?:labs?|lab (?:results?|work|tests?)|bloods?|blood ?work|blood tests?|results?|tests?"
    r"|investigations|checked|measured|drawn|drew)"
)
_VISIT = r"(?:visit|encounter|appointment|appt|check ?up|physical|consultation)s?"
_WHICH = r"(last|latest|most recent|recent|previous|first|earliest|initial)"
_OWNER = r"(?:(?:the|his|her|their|this|that|pt'?s|patient'?s)\s+)?"
_VISIT_RESULTS = re.compile(
    # "labs at his last visit", "what was checked at her most recent appointment"
    rf"\b{_RESULTS}\b.*\b(?:at|from|during|in|on|for|of)\s+{_OWNER}{_WHICH}\s+{_VISIT}\b"
    # "last visit's labs", "most recent encounter results"
    rf"|\b{_WHICH}\s+{_VISIT}(?:'s|\u2019s)?\s+{_RESULTS}\b"
)


def visit_results_asked(raw: str) -> Literal["latest", "first"] | None:
    """Which visit's results the (lower-case) question asks for, if it asks that."""
    match = _VISIT_RESULTS.search(raw)
    if match is None:
        return None
    which = next(w for w in match.groups() if w)
    return "first" if which in ("first", "earliest", "initial") else "latest"
