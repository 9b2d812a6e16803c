"""Dental visits: told apart from physicals, found when a dentist is asked about.

Synthea types a dental check-up with the same SNOMED CT code as a general one,
185349003 "Encounter for check up", so the lay word "check-up" (a wellness visit,
``tools/concepts/data/lay_terms.toml``) found the dentist's visits too, and "when was
his last physical" could answer with a gum cleaning.  What tells them apart on the
Encounter itself is why it happened: Synthea's dental module gives its visits the
reason "Gingivitis" or "Patient referral for dental care", and other records name the
dentistry in the visit's type or service type.  So a visit is dental when its type,
service type or reasons name the mouth's care in these words; a check-up whose reason
is left blank stays a wellness visit (the record does not say otherwise).

Source: the displays of Synthea's dental encounters in ``synthea_fixtures/fhir``
(reasons "Gingivitis (disorder)", "Patient referral for dental care (procedure)") and
the usual English words of dentistry.
"""

from __future__ import annotations

from typing import Any

from tools.fhir_text import concept_texts
from tools.vocabulary import normalize_name

__all__ = ["asks_dental", "asks_wellness", "is_dental_visit", "visit_kind_rule"]

Resource = dict[str, Any]

# Word starts (after normalisation) that name dentistry or the gums and teeth.
_DENTAL_STARTS = ("dental", "dentist", "gingiv", "periodont", "tooth", "teeth", "orthodont")
# How a visit kind is asked for when a physical is meant (the planner's "wellness", and the
# lay names the encounters tool expands it to).
_WELLNESS_KINDS = frozenset(
    {"wellness", "wellness visit", "check up", "checkup", "physical", "general examination"}
)


def _dental_text(text: str) -> bool:
    return any(word.startswith(_DENTAL_STARTS) for word in normalize_name(text).split())


def is_dental_visit(encounter: Resource) -> bool:
    """Whether the Encounter's type, service type or reasons name dentistry."""
    concepts: list[Any] = [
        *(encounter.get("type") or []),
        encounter.get("serviceType"),
        *(encounter.get("reasonCode") or []),
    ]
    texts = [t for c in concepts if isinstance(c, dict) for t in concept_texts(c)]
    texts += [
        str(r.get("display"))
        for r in encounter.get("reasonReference") or []
        if isinstance(r, dict) and r.get("display")
    ]
    return any(_dental_text(t) for t in texts)


def asks_dental(encounter_type: str) -> bool:
    """Whether a visit kind asked for is the dentist's ("dental", "dentist")."""
    return _dental_text(encounter_type)


def asks_wellness(encounter_type: str) -> bool:
    """Whether a visit kind asked for is a physical ("wellness", "check up")."""
    return normalize_name(encounter_type) in _WELLNESS_KINDS


def visit_kind_rule(encounter_type: str, encounter: Resource) -> bool | None:
    """Keep (True) or drop (False) a visit for the kind asked, where the words alone are
    wrong: a physical is no dental check-up, and a dental visit is one whatever its type
    says.  None: the visit's words decide."""
    if asks_dental(encounter_type):
        return is_dental_visit(encounter)
    if asks_wellness(encounter_type) and is_dental_visit(encounter):
        return False
    return None
