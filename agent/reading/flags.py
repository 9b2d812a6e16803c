"""Words that ask which results are out of range, not about one named test.

"any abnormal labs?", "results out of range?", "labs flagged high", "is her bloodwork
ok?": such a question is answered from the record's own flags (``flagged_results``), so
its span is cut from the text before the concept phrase is read ("abnormal labs" names
no test).  Apart from :mod:`agent.reading.rules` because it is one pattern with one use.
"""

from __future__ import annotations

import re

__all__ = ["FLAGGED_RESULTS", "cut_flag_words"]

_RESULT_WORDS = (
    r"(?:(?:lab|blood|test)\s+)?(?:labs?|laborator(?:y|ies)|results?|values?|tests?|bloodwork"
    r"|blood\s?work|numbers|levels|vitals?|vital signs|readings?)"
)
_RANGE_WORDS = (
    r"(?:abnormal(?:ly)?|out[- ]of[- ]range|outside (?:the )?(?:normal |reference )?range"
    r"|flagged|elevated|raised|high|low|critical|concerning|worrying)"
)
_IN_RANGE_WORDS = r"(?:ok|okay|alright|fine|normal|good|in range|within (?:normal )?range)"
FLAGGED_RESULTS = re.compile(
    rf"\b{_RANGE_WORDS}\s+{_RESULT_WORDS}\b"
    rf"|\b{_RESULT_WORDS}(?:\s+\w+){{0,3}}?\s+(?:{_RANGE_WORDS}|off|{_IN_RANGE_WORDS})"
    rf"(?:\s+{_RANGE_WORDS})?\b"
    rf"|\b(?:{_RANGE_WORDS}|off)\s+(?:in|on|with|among)\s+(?:(?:her|his|their|the)\s+)?"
    rf"{_RESULT_WORDS}\b"
)
"""A question about the record's flags on results (see the module docstring)."""


def cut_flag_words(text: str) -> tuple[bool, str]:
    """Whether ``text`` asks about the record's flags, and ``text`` without their span."""
    match = FLAGGED_RESULTS.search(text)
    if match is None:
        return False, text
    return True, f"{text[: match.start()]} {text[match.end() :]}"
