"""What a question's words can mean: the phrase cut into pieces, each piece read as the
``Expansion``s a curated vocabulary gives it, and the pieces' readings combined.

Why apart from :mod:`tools.concepts.resolve`: reading a phrase ("blood thinners",
"kidney function", "plavix", "BP") needs only the vocabularies and, for spelling, the
record's own words; matching the readings against the record's index and saying what
was found or searched is the resolver's job. The vocabularies (abbreviations, lay
terms, word forms, drug classes, lab panels, encounter classes, observation names,
vaccine groups, brand names) are read here and nowhere else.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from tools.concepts.brands import generic_names
from tools.concepts.families import FAMILIES, FAMILY_WORDS, Family
from tools.concepts.index import RecordIndex
from tools.concepts.resolution import Expansion
from tools.concepts.text import STOP_WORDS, stem
from tools.concepts.vocabularies import vocabularies
from tools.vocabulary import (
    CVX,
    LOINC,
    find_observation_concept,
    find_vaccine_group,
    normalize_name,
)

__all__ = ["Piece", "combine_readings", "cut_into_pieces"]

# Where a vocabulary concept's results are filed: a survey score under "survey", a
# smoking status under "social-history" (US Core), so both are searched by code.
_KIND_FAMILIES: dict[str, tuple[Family, ...]] = {
    "lab": ("labs",),
    "vital": ("vitals",),
    "survey": ("surveys", "social_history"),
}
_DRUG_FAMILIES: tuple[Family, ...] = ("medications", "allergies")
_CARE_FAMILIES: tuple[Family, ...] = ("procedures", "encounters", "care_plans")
_MAX_PIECE_WORDS = 5  # the longest vocabulary phrase tried
_MAX_EXPANSIONS = 64
_FUZZY_MIN_LENGTH = 5
_FUZZY_SCORE = 84.0
_MIN_PREFIX = 4  # a shorter word ("hb", "ear") begins too many others by chance


def _observation_expansions(phrase: str, via: str) -> list[Expansion]:
    concept = find_observation_concept(phrase)
    if concept is None:
        return []
    families = (*_KIND_FAMILIES[concept.kind], "observations")
    codes = frozenset((*concept.codes, *(f"{LOINC}|{c}" for c in concept.codes)))
    words = tuple(normalize_name(concept.names[0]).split())
    return [
        Expansion(words, via, families, codes, concept.label),
        Expansion((), via, families, codes, concept.label),
    ]


def _class_expansions(key: str, via: str) -> list[Expansion]:
    drug_class = vocabularies().drug_classes[key]
    codes = frozenset(drug_class.rxnorm_ingredients)
    out = [
        Expansion(tuple(i.split()), via, ("medications",), frozenset(), drug_class.label)
        for i in drug_class.ingredients
    ]
    if codes:
        out.append(Expansion((), via, ("medications",), codes, drug_class.label))
    return out


def _panel_expansions(key: str, via: str) -> list[Expansion]:
    panel = vocabularies().lab_panels[key]
    out: list[Expansion] = []
    for member in panel.members:
        out.extend(_observation_expansions(member.label, via))
    return [Expansion(e.words, e.via, e.families, e.codes, panel.label) for e in out]


def _encounter_class_expansions(code: str, via: str) -> list[Expansion]:
    encounter_class = vocabularies().encounter_classes[code]
    label = encounter_class.label
    words = tuple(normalize_name(label).split())
    return [Expansion(words, via, ("encounters",), frozenset(), label)]


def _target_expansions(target: str, via: str, asked: str) -> list[Expansion]:
    """A vocabulary target: ``class:KEY``, ``panel:KEY``, ``condition:WORDS``,
    ``care:WORDS`` or words; ``asked`` is the lay phrase that named it."""
    kind, _, key = target.partition(":")
    if key and kind == "class":
        return _class_expansions(key, f"{via} -> drug class {key.replace('_', ' ')}")
    if key and kind == "panel":
        return _panel_expansions(key, f"{via} -> lab panel {key.replace('_', ' ')}")
    if key and kind == "condition":
        # A lay name of a disorder ("heart trouble"): only a Condition is evidence of it,
        # never a test that shares a word ("Troponin I.cardiac panel").
        # Labelled with the lay phrase: "no colon cancer among 28 conditions (searched for
        # neoplasm colon, carcinoma colon, ...)", not every target joined by "or".
        words = normalize_name(key)
        return [Expansion(tuple(words.split()), via, ("conditions",), label=asked)]
    if key and kind == "care":
        # A kind of care given ("physical therapy"): a procedure, a visit or a care plan is
        # evidence of it, never a survey question that shares a word ("physically safe").
        words = normalize_name(key)
        return [Expansion(tuple(words.split()), via, _CARE_FAMILIES, label=words)]
    words = normalize_name(target)
    out = [Expansion(tuple(words.split()), via, label=words)]
    out.extend(_observation_expansions(words, via))
    return out


def _known_piece(piece: str) -> list[Expansion]:
    """Expansions for a phrase a curated vocabulary knows (or knows in its other
    number: "kidney test" for "kidney tests"), else []."""
    out = _known_as_written(piece)
    if out or len(piece) < 4:
        return out
    other = piece[:-1] if piece.endswith("s") else piece + "s"
    return _known_as_written(other)


def _known_as_written(piece: str) -> list[Expansion]:
    vocab = vocabularies()
    out: list[Expansion] = []
    if piece in vocab.class_names:
        out.extend(_class_expansions(vocab.class_names[piece], f"drug class {piece}"))
    if piece in vocab.panel_names:
        out.extend(_panel_expansions(vocab.panel_names[piece], f"lab panel {piece}"))
    if piece in vocab.encounter_class_names:
        code = vocab.encounter_class_names[piece]
        out.extend(_encounter_class_expansions(code, f"encounter class {piece}"))
    for target in vocab.phrases.get(piece, ()):
        out.extend(_target_expansions(target, f"'{piece}'", piece))
    if piece in vocab.ingredients:
        out.append(Expansion(tuple(piece.split()), f"drug {piece}", _DRUG_FAMILIES, label=piece))
    out.extend(_observation_expansions(piece, f"observation name {piece}"))
    group = find_vaccine_group(piece)
    if group is not None:
        codes = frozenset((*group.cvx_codes, *(f"{CVX}|{c}" for c in group.cvx_codes)))
        out.append(
            Expansion((), f"vaccine group {group.label}", ("immunizations",), codes, group.label)
        )
    return out


def _in_record(word: str, index: RecordIndex) -> bool:
    return word in index.words or any(stem(word) in e.stems for e in index.entries)


def _unknown_word(word: str, index: RecordIndex) -> tuple[list[Expansion], str | None]:
    """A word no vocabulary knows: itself, its generic name if a brand, a spelling fix."""
    if word in STOP_WORDS or word in FAMILY_WORDS or word.isdigit():
        return [], None
    # A brand is read as its generic even when the record spells the brand somewhere
    # ("[Tylenol]" on one order): "is he on Tylenol" asks about acetaminophen.
    generics = [g for g in generic_names(word) if g != word]
    if generics:
        return [
            Expansion(tuple(g.split()), f"brand {word} -> {g}", _DRUG_FAMILIES, label=g)
            for g in generics
        ], f"brand name {word} = {', '.join(generics)}"
    if _in_record(word, index):
        return [], None
    if len(word) >= _FUZZY_MIN_LENGTH:
        # Never "corrected" to a stop word: "wheat" is not "what" (a survey's wording).
        choices = (index.words | vocabularies().words) - STOP_WORDS
        best = process.extractOne(word, choices, scorer=fuzz.ratio, score_cutoff=_FUZZY_SCORE)
        if best is not None and str(best[0]) != word:
            fixed = str(best[0])
            return [Expansion((fixed,), f"spelling {word} -> {fixed}", label=fixed)], (
                f"read '{word}' as '{fixed}'"
            )
    return [], None


@dataclass
class Piece:
    """Consecutive words of the question read together, and what they can mean."""

    words: tuple[str, ...]
    expansions: list[Expansion]
    known: bool


def cut_into_pieces(words: list[str], index: RecordIndex) -> tuple[list[Piece], list[str]]:
    """Cut ``words`` greedily into the longest phrases a vocabulary knows."""
    pieces: list[Piece] = []
    notes: list[str] = []
    start = 0
    while start < len(words):
        for size in range(min(_MAX_PIECE_WORDS, len(words) - start), 0, -1):
            phrase = " ".join(words[start : start + size])
            expansions = _known_piece(phrase)
            if expansions:
                pieces.append(Piece(tuple(words[start : start + size]), expansions, True))
                start += size
                break
        else:
            word = words[start]
            expansions, note = _unknown_word(word, index)
            if note:
                notes.append(note)
            as_asked = Expansion((word,), "as asked", label=word)
            pieces.append(Piece((word,), [as_asked, *expansions], bool(expansions)))
            start += 1
    return pieces, notes


def _without_prefixes(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words without one that begins another: "colon" + "colonoscopy" (from "colon
    scoped") is "colonoscopy", which a display never writes as two words."""
    return tuple(
        w
        for w in words
        if len(w) < _MIN_PREFIX or not any(o != w and o.startswith(w) for o in words)
    )


def combine_readings(pieces: list[Piece], phrase: str) -> list[Expansion]:
    """Every way of reading the pieces together (bounded), plus the phrase as asked."""
    if len(pieces) == 1:
        combined = list(pieces[0].expansions)
    else:
        combined = []
        for choice in itertools.islice(
            itertools.product(*(p.expansions for p in pieces)), _MAX_EXPANSIONS
        ):
            families = [set(e.families) for e in choice if e.families]
            common = set.intersection(*families) if families else set()
            if families and not common:
                continue
            codes = [e.codes for e in choice if e.codes]
            combined.append(
                Expansion(
                    _without_prefixes(tuple(w for e in choice for w in e.words)),
                    " + ".join(e.via for e in choice if e.via != "as asked") or "as asked",
                    tuple(f for f in FAMILIES if f in common),
                    codes[0] if len(codes) == 1 else frozenset(),
                    " ".join(
                        _without_prefixes(
                            tuple(" ".join(e.label or e.term for e in choice).split())
                        )
                    ),
                )
            )
    # A phrase that is one lay name of a disorder ("high cholesterol", every reading of
    # it confined to conditions) is confined there as asked too: "High Density
    # Lipoprotein Cholesterol" holds its words but is no diagnosis.
    conditions_only: tuple[Family, ...] = ("conditions",)
    confined = len(pieces) == 1 and {e.families for e in combined} == {conditions_only}
    only = conditions_only if confined else ()
    as_asked = Expansion(tuple(phrase.split()), "as asked", only, label=phrase)
    if as_asked not in combined:
        combined.append(as_asked)
    return [e for e in combined if e.words or e.codes]
