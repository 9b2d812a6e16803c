"""What a resolution says: the matches, what was searched, and the verdict.

Separate from the matching (``tools.concepts.resolve``) so the planner, the answers and
the tests can read a resolution without the machinery that made it.  ``absence()`` is the
one place where an honest statement of absence is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tools.concepts.families import FAMILIES, FAMILY_NOUNS, Family

__all__ = ["ConceptMatch", "ConceptResolution", "Expansion", "SearchedFamily", "Status"]

Status = Literal["found", "none_found", "not_understood"]
_SHOWN_TERMS = 8


@dataclass(frozen=True)
class Expansion:
    """One way of finding the concept: words (all must occur), codes, families."""

    words: tuple[str, ...]
    via: str
    """How the words were reached: "as asked", "drug class anticoagulant", ..."""
    families: tuple[Family, ...] = ()
    """Look only in these families (empty: every family)."""
    codes: frozenset[str] = frozenset()
    label: str = ""
    """What a clinician calls what this expansion finds ("anticoagulant")."""

    @property
    def term(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class ConceptMatch:
    """One coded name of the record that matches, with the resources carrying it."""

    family: Family
    role: str
    name: str
    references: tuple[str, ...]
    codes: tuple[str, ...]
    first_date: str | None
    last_date: str | None
    via: str

    @property
    def count(self) -> int:
        return len(self.references)


@dataclass(frozen=True)
class SearchedFamily:
    """A family that was searched and how many of its resources the record holds."""

    family: Family
    resources: int

    @property
    def text(self) -> str:
        return f"{self.resources} {FAMILY_NOUNS[self.family]}"


@dataclass(frozen=True)
class ConceptResolution:
    """What a phrase means in this record: matches, what was searched, and the verdict."""

    query: str
    status: Status
    label: str
    """The concept as an answer names it ("anticoagulant or antiplatelet")."""
    terms: tuple[str, ...]
    """The names searched for (ingredients, panel members, expansions), for the answer."""
    expansions: tuple[Expansion, ...]
    matches: tuple[ConceptMatch, ...]
    searched: tuple[SearchedFamily, ...]
    record_truncated: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def found(self) -> bool:
        return self.status == "found"

    @property
    def understood(self) -> bool:
        return self.status != "not_understood"

    @property
    def families(self) -> tuple[Family, ...]:
        """The families with matches, in the order of ``FAMILIES``."""
        present = {m.family for m in self.matches}
        return tuple(f for f in FAMILIES if f in present)

    @property
    def references(self) -> tuple[str, ...]:
        """Every matching resource, each once."""
        return tuple(dict.fromkeys(r for m in self.matches for r in m.references))

    def matches_in(self, *families: Family) -> tuple[ConceptMatch, ...]:
        return tuple(m for m in self.matches if m.family in families)

    def searched_text(self) -> str:
        """ "312 medication orders and 4 allergies" (what was looked through)."""
        parts = [s.text for s in self.searched]
        if len(parts) > 3:
            total = sum(s.resources for s in self.searched)
            return f"all {total} coded entries of the record"
        if len(parts) <= 2:
            return " and ".join(parts)
        return ", ".join(parts[:-1]) + " and " + parts[-1]

    def terms_text(self) -> str:
        shown = list(self.terms[:_SHOWN_TERMS])
        if len(self.terms) > _SHOWN_TERMS:
            shown.append("...")
        return ", ".join(shown)

    def absence(self) -> str | None:
        """The honest statement of absence, or None when none may be made.

        Only a ``none_found`` resolution (understood, searched, nothing) has one: "No
        anticoagulant or antiplatelet among 312 medication orders (searched for warfarin,
        heparin, ...)."  A truncated record says that the search covered what was read.
        """
        if self.status != "none_found":
            return None
        if not any(s.resources for s in self.searched):
            nouns = " or ".join(FAMILY_NOUNS[s.family] for s in self.searched) or "entries"
            text = f"No {self.label}: the record holds no {nouns}"
        else:
            text = f"No {self.label} among {self.searched_text()}"
        if self.terms and self.terms != (self.label,):
            text += f" (searched for {self.terms_text()})"
        if self.record_truncated:
            text += "; the record was larger than the bound and only part of it was searched"
        return text + "."
