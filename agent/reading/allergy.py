"""Words that say which kind of allergy is asked about: "any drug allergies?", "food
allergies", "is she allergic to any meds?".

"Drug" there qualifies the allergy; it does not ask for the medication list (before,
"any drug allergies" listed every current order as if it were one).  The qualifier is
cut from the text before families are read, and the kind becomes the ``allergies``
tool's ``category`` (FHIR ``AllergyIntolerance.category``).  Apart from
:mod:`agent.reading.rules` because it is one pattern with one use.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["AllergyCategory", "cut_allergy_category"]

AllergyCategory = Literal["medication", "food", "environment", "biologic"]

_KINDS: dict[str, AllergyCategory] = {
    **dict.fromkeys(("drug", "medication", "med", "medicine", "antibiotic"), "medication"),
    **dict.fromkeys(("food", "foods", "dietary"), "food"),
    **dict.fromkeys(("environmental", "environment", "seasonal"), "environment"),
}
_KIND = (
    r"(?P<word>(?P<kind>drug|medication|med|medicine|antibiotic|food|dietary|environmental"
    r"|environment|seasonal)s?)"
)
_QUALIFIED = (
    re.compile(rf"\b{_KIND}\s+(?=allerg|intoleran|sensitivit)"),  # "drug allergies"
    re.compile(rf"\ballergic\s+(?:reactions?\s+)?to\s+(?:any\s+)?{_KIND}\b"),  # "to any meds"
)


def cut_allergy_category(text: str) -> tuple[AllergyCategory | None, str]:
    """The allergy kind ``text`` asks about, and ``text`` without its qualifier word."""
    for pattern in _QUALIFIED:
        match = pattern.search(text)
        if match is not None:
            start, end = match.span("word")
            return _KINDS[match.group("kind")], f"{text[:start]} {text[end:]}"
    return None, text
