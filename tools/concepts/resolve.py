"""Resolve what a question names ("blood thinners", "kidney function", "plavix", "BP")
against one patient's record.

The phrase is read into ``Expansion``s (words to find, codes to find, families to look
in) by :mod:`tools.concepts.expansions`; here every index entry whose stems contain an
expansion's stems, or whose codes meet its codes, is a match, and the verdict is
written.

The result distinguishes three outcomes, so an answer never claims an absence it did not
establish:

- ``found``: matches, grouped by family, each with its resources;
- ``none_found``: the concept was understood (a vocabulary knows it) and the families it
  belongs to were searched: ``absence()`` says so, naming what was searched;
- ``not_understood``: neither a vocabulary nor the record knows the words: nothing may be
  said about absence (the record-wide search is the last resort).
"""

from __future__ import annotations

from collections.abc import Iterable

from tools.concepts.expansions import Piece, combine_readings, cut_into_pieces
from tools.concepts.families import FAMILIES, FAMILY_NOUNS, FAMILY_WORDS, Family
from tools.concepts.index import IndexEntry, RecordIndex
from tools.concepts.resolution import (
    ConceptMatch,
    ConceptResolution,
    Expansion,
    SearchedFamily,
    Status,
)
from tools.concepts.text import STOP_WORDS, stem
from tools.concepts.vocabularies import vocabularies
from tools.vocabulary import normalize_name

__all__ = [
    "ConceptMatch",
    "ConceptResolution",
    "Expansion",
    "SearchedFamily",
    "Status",
    "resolve",
]


def _entry_matches(entry: IndexEntry, expansion: Expansion) -> bool:
    if expansion.families and entry.family not in expansion.families:
        return False
    if expansion.codes and expansion.codes & entry.codes:
        return True
    if not expansion.words:
        return False
    return all(stem(w) in entry.stems for w in expansion.words)


def _label_and_terms(expansions: list[Expansion], phrase: str) -> tuple[str, tuple[str, ...]]:
    labels = [e.label for e in expansions if e.via != "as asked" and e.label]
    label = " or ".join(dict.fromkeys(labels)) if labels else phrase
    terms = tuple(dict.fromkeys(e.term for e in expansions if e.words and e.via != "as asked"))
    return label, terms or (phrase,)


def resolve(
    query: str, index: RecordIndex, *, families: Iterable[Family] = ()
) -> ConceptResolution:
    """Resolve ``query`` against the record ``index`` (optionally within ``families``)."""
    wanted = set(families)
    words = [w for w in normalize_name(query).split() if w not in STOP_WORDS]
    cut, notes = cut_into_pieces(words, index)
    # A family word no vocabulary phrase took ("statin meds", "ER visits") narrows the search.
    kept: list[Piece] = []
    for piece in cut:
        if not piece.known and len(piece.words) == 1 and piece.words[0] in FAMILY_WORDS:
            wanted.update(FAMILY_WORDS[piece.words[0]])
        else:
            kept.append(piece)
    if not kept and wanted:  # "his meds", "any vaccines": the family itself is the concept
        return _whole_families(query, index, wanted)
    phrase = " ".join(w for p in kept for w in p.words)
    if not phrase:
        return ConceptResolution(query, "not_understood", query, (), (), (), ())
    expansions = combine_readings(kept, phrase)
    if wanted:
        expansions = [
            Expansion(
                e.words,
                e.via,
                tuple(f for f in FAMILIES if f in wanted and (not e.families or f in e.families)),
                e.codes,
                e.label,
            )
            for e in expansions
        ]
        expansions = [e for e in expansions if e.families]
    matches: list[ConceptMatch] = []
    for entry in index.entries:
        for expansion in expansions:
            if _entry_matches(entry, expansion):
                matches.append(_match(entry, expansion.via))
                break
    matches.sort(key=lambda m: (FAMILIES.index(m.family), -(len(m.references)), m.name))
    known = any(p.known for p in kept) or vocabularies().is_known_phrase(phrase)
    status: Status = "found" if matches else ("none_found" if known else "not_understood")
    label, terms = _label_and_terms(expansions, phrase)
    return ConceptResolution(
        query=query,
        status=status,
        label=label,
        terms=terms,
        expansions=tuple(expansions),
        matches=tuple(matches),
        searched=_searched(expansions, index),
        record_truncated=index.record.truncated,
        notes=tuple(notes),
    )


def _match(entry: IndexEntry, via: str) -> ConceptMatch:
    return ConceptMatch(
        family=entry.family,
        role=entry.role,
        name=entry.name,
        references=tuple(entry.references),
        codes=tuple(sorted(c for c in entry.codes if "|" in c)),
        first_date=entry.first_date,
        last_date=entry.last_date,
        via=via,
    )


def _searched(expansions: list[Expansion], index: RecordIndex) -> tuple[SearchedFamily, ...]:
    """The families looked through: those the vocabulary readings name (the words as
    asked are searched everywhere, but only a vocabulary reading defines the concept)."""
    readings = [e for e in expansions if e.via != "as asked"] or expansions
    if readings and all(e.families for e in readings):
        targets = {f for e in readings for f in e.families}
    else:
        targets = set(FAMILIES)
    return tuple(
        SearchedFamily(f, index.family_counts.get(f, 0))
        for f in FAMILIES
        if f in targets and (index.family_counts.get(f, 0) or len(targets) <= 3)
    )


def _whole_families(query: str, index: RecordIndex, wanted: set[Family]) -> ConceptResolution:
    matches = tuple(
        _match(e, "whole family")
        for e in index.entries
        if e.family in wanted and e.role in ("code", "class")
    )
    searched = tuple(
        SearchedFamily(f, index.family_counts.get(f, 0)) for f in FAMILIES if f in wanted
    )
    label = " and ".join(FAMILY_NOUNS[f] for f in FAMILIES if f in wanted)
    return ConceptResolution(
        query=query,
        status="found" if matches else "none_found",
        label=label,
        terms=(label,),
        expansions=(),
        matches=matches,
        searched=searched,
        record_truncated=index.record.truncated,
    )
