"""Clinical claims in an answer sentence, and whether the lines it cites support them.

Numbers and dates are checked by :mod:`agent.citations`; this module checks the words
that change what a sentence means clinically:

* **qualifiers** ("normal", "abnormal", "resolved", "active", "high", "negative",
  "stopped", "healthy", ...): each must appear, or an equivalent flag (``(H)`` for
  "high"), in the lines the sentence cites;
* **negations** ("no ...", "none", "not", "never", "without", "ruled out"): the cited
  lines must themselves say that something is absent, stopped or resolved;
* **topics** ("allergy", "medication", "vaccine", "diagnosis"): a cited line of that kind
  of record (or a clinical line naming the word) must back it; a Patient line holds
  demographics and supports no clinical topic, whatever its name field says;
* **named conditions and drugs**: a word naming a condition, drug, allergy, vaccine or
  procedure retrieved in this thread must be in the lines the sentence cites, so a
  sentence cannot lend one record's citation to another record's finding; so must a
  drug or condition the curated vocabularies know (``warfarin``, ``afib``), or one of
  the words it expands to, so a name nothing retrieved can be invented; uncited, such a
  name is a clinical fact without evidence.

* **a primary care designation** ("her PCP is ...", "her GP", "primary care physician"):
  only the record makes someone the PCP (``Patient.generalPractitioner``, which the
  ``care_team`` lines say as ``tools.care_team.PCP_WORDS``); a cited sentence must cite
  such a line, and an uncited one needs such a line in the thread, so being seen most
  often is never promoted to "her PCP".

A sentence that fails is dropped by the verifier and the answer says so.  The
vocabulary is general clinical language, not a list of attack strings; a sentence
without citations is only checked for qualifiers, topics and names stated positively
(an uncited "All normal." or "She has AFib." is a claim with nothing behind it), since
"No allergies are recorded." is how an answer honestly reports an empty search.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

from tools.care_team import PCP_WORDS
from tools.concepts.vocabularies import vocabularies

__all__ = ["QUALIFIERS", "ClaimVocabulary", "claim_problems", "thread_vocabulary"]

_WORD = re.compile(r"[a-z][a-z0-9'-]*")
_BRACKET = re.compile(r"\[[^\[\]\n]{1,200}\]")

QUALIFIERS: dict[str, tuple[str, ...]] = {
    # claim word (stem) -> words or flags in a cited line that support it
    "normal": ("normal", "within normal", "negative"),
    "abnormal": ("abnormal", "(h)", "(l)", "(hh)", "(ll)", "critical", "high", "low"),
    "high": ("high", "(h)", "(hh)", "elevated", "critical"),
    "elevated": ("elevated", "high", "(h)", "(hh)"),
    "low": ("low", "(l)", "(ll)", "decreased"),
    "critical": ("critical", "(hh)", "(ll)"),
    "resolved": ("resolved", "inactive", "remission", "refuted"),
    "cured": ("cured", "resolved"),
    "remission": ("remission",),
    "inactive": ("inactive", "resolved", "remission", "stopped"),
    "active": ("active", "recurrence", "relapse"),
    "ongoing": ("active", "ongoing", "in-progress"),
    "healthy": ("healthy",),
    "negative": ("negative", "not detected"),
    "positive": ("positive", "detected"),
    "stable": ("stable",),
    "controlled": ("controlled",),
    "uncontrolled": ("uncontrolled",),
    "stopped": ("stopped", "discontinued", "completed", "cancelled", "inactive", "ended"),
    "discontinued": ("stopped", "discontinued", "cancelled", "inactive"),
    "unremarkable": ("unremarkable",),
}
# "high-density", "low-dose": compounds, not findings.
_QUALIFIER = re.compile(r"\b(" + "|".join(QUALIFIERS) + r")\b(?!-)")

_DESIGNATION = re.compile(
    r"\b(?:pcps?|primary care(?: provider| physician| doctor| clinician)?s?|gps?|"
    r"general practitioners?|family (?:doctor|physician)s?)\b"
)
_DESIGNATED = PCP_WORDS.lower()

_NEGATION = re.compile(
    r"\b(?:no|none|not|never|nothing|without|denies|denied|absent|free of|ruled out|"
    r"neither|nor|isn't|aren't|doesn't|don't|wasn't|weren't|hasn't|haven't)\b"
)
# Negations about the evidence rather than the patient ("the record does not show a
# newer result", "no other results"), and a leading "No," answering a yes/no question:
# the clinical part of such a sentence is checked on its own words.
_META_NEGATION = re.compile(
    r"^\s*no\s*,|\b(?:does|do|did)\s+not\s+(?:show|say|state|mention|include|contain|list|"
    r"record|answer|give|name|designate)\b|\bnot\s+(?:found|recorded|available|shown|mentioned|listed|"
    r"documented|stated|retrieved|given)\b|\bno\s+(?:other|further|more|newer|later|earlier|"
    r"additional)\b"
)
# What a line says when it records that something is absent, stopped or resolved.
_LINE_NEGATION = re.compile(
    r"\b(?:no|none|not|never|negative|without|absent|denies|refuted|ruled out|resolved|"
    r"inactive|stopped|discontinued|cancelled|entered-in-error|not detected|remission)\b"
)

_TOPICS: dict[str, tuple[str, ...]] = {
    # stem in a sentence -> resource types whose lines back it
    "allerg": ("AllergyIntolerance",),
    "medication": ("MedicationRequest", "MedicationStatement", "MedicationAdministration"),
    "medicine": ("MedicationRequest", "MedicationStatement", "MedicationAdministration"),
    "prescri": ("MedicationRequest",),
    "vaccin": ("Immunization",),
    "immuniz": ("Immunization",),
    "diagnos": ("Condition",),
    "condition": ("Condition",),
    "surger": ("Procedure",),
}
# Kinds of record whose every name word is a drug, an allergen or a vaccine.
_NAMED_KINDS = frozenset(
    {
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "AllergyIntolerance",
        "Immunization",
    }
)
# Condition lines mix diseases with social findings ("Received higher education"), so
# only words shaped like a disease name count: clinical suffixes and head nouns.
_DISEASE_WORD = re.compile(
    r"(?:itis|osis|emia|aemia|oma|pathy|algia|plegia|penia|iasis|ism|trophy|ectasis|"
    r"diabetes|tension|asthma|cancer|carcinoma|infection|fracture|syndrome|disease|"
    r"disorder|failure|pneumonia)$"
)
# Words such lines share that name no condition or drug (forms, statuses, routes).
_NOT_NAMES = frozenset(
    [
        "active",
        "inactive",
        "resolved",
        "stopped",
        "completed",
        "cancelled",
        "order",
        "draft",
        "intended",
        "unknown",
        "allergy",
        "allergies",
        "vaccine",
        "reaction",
        "criticality",
        "crit",
        "moderate",
        "severe",
        "mild",
        "food",
        "medication",
        "environment",
        "biologic",
        "tablet",
        "tablets",
        "capsule",
        "capsules",
        "injection",
        "injectable",
        "solution",
        "suspension",
        "extended",
        "release",
        "delayed",
        "actuat",
        "inhalant",
        "inhaler",
        "topical",
        "cream",
        "ointment",
        "patch",
        "spray",
        "powder",
        "prefilled",
        "syringe",
        "chewable",
        "disintegrating",
        "dose",
        "doses",
        "product",
        "finding",
        "disorder",
        "procedure",
        "situation",
        "therapy",
        "regime",
    ]
)
_NAME_MIN_CHARS = 5  # shorter words ("oral", "unit") are forms, not names
# A curated abbreviation is a name from four letters ("afib", "copd", "gerd"): shorter
# keys ("pe", "af", "hr") are also everyday words or units in an answer's prose.
_CURATED_MIN_CHARS = 4
# Expansions that name a kind of record rather than one drug or condition.
_FAMILY_WORD = re.compile(r"(?:medication|medicine|vital sign)")


@dataclass(frozen=True)
class ClaimVocabulary:
    """The words naming conditions, drugs, allergens and vaccines in this thread's
    evidence: a sentence naming one must cite a line that names it."""

    names: frozenset[str]
    curated: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """A drug or condition word the curated vocabularies know -> the words a line may use
    for it (itself and its expansions: "afib" -> "atrial fibrillation")."""


@cache
def curated_names() -> Mapping[str, tuple[str, ...]]:
    """Single-word drug and condition names from the curated vocabularies: every drug
    class's ingredients, and each clinical abbreviation with the record wording it
    expands to (or, for a drug class, the class's ingredients and names).  Lay terms
    and word forms ("home", "weight", "prescribed") are everyday words, not names."""
    vocab = vocabularies()
    names: dict[str, tuple[str, ...]] = {
        ingredient: (ingredient,)
        for ingredient in vocab.ingredients
        if ingredient.isalpha() and len(ingredient) >= _NAME_MIN_CHARS
    }
    for phrase in vocab.abbreviations:
        if not phrase.isalpha() or len(phrase) < _CURATED_MIN_CHARS or phrase in names:
            continue
        expansions = vocab.phrases[phrase]
        if any(_FAMILY_WORD.match(e) for e in expansions):
            continue  # "meds", "vitals": a kind of record, not a name
        backing: list[str] = [phrase]
        for expansion in expansions:
            kind, _, target = expansion.partition(":")
            if kind == "class" and target in vocab.drug_classes:
                drug_class = vocab.drug_classes[target]
                backing += [*drug_class.ingredients, *drug_class.names]
            elif kind not in ("class", "panel"):
                backing.append(expansion.lower())
        names[phrase] = tuple(dict.fromkeys(backing))
    return names


def _words(text: str) -> list[str]:
    return _WORD.findall(_BRACKET.sub(" ", text).lower())


def thread_vocabulary(evidence: Mapping[str, str]) -> ClaimVocabulary:
    """Names from the thread's drug, allergy and vaccine lines, and disease words from
    its condition lines."""
    names: set[str] = set()
    for reference, line in evidence.items():
        kind = reference.split("/", 1)[0]
        if kind not in _NAMED_KINDS and kind != "Condition":
            continue
        for word in _words(line):
            if len(word) < _NAME_MIN_CHARS or not word.isalpha() or word in _NOT_NAMES:
                continue
            if kind in _NAMED_KINDS or _DISEASE_WORD.search(word):
                names.add(word)
    return ClaimVocabulary(frozenset(names), curated_names())


def _supported(phrases: Iterable[str], lines: str) -> bool:
    return any(re.search(r"(?<![a-z])" + re.escape(p) + r"(?![a-z])", lines) for p in phrases)


def claim_problems(
    sentence: str,
    cited: list[str],
    evidence: Mapping[str, str],
    vocabulary: ClaimVocabulary,
    unsearched: frozenset[str] | None = None,
) -> list[str]:
    """What ``sentence`` claims that the lines it cites (``cited`` references) do not say.

    ``unsearched`` are topic stems ("medication", "allerg") no search of this turn
    covered; an uncited sentence saying one is absent claims what nobody looked for.
    With ``None`` (nothing known about the searches) that check is skipped.
    """
    text = _BRACKET.sub(" ", sentence).lower()
    problems: list[str] = _designation_problems(sentence, text, cited, evidence)
    qualifiers = sorted(set(_QUALIFIER.findall(text)))
    heading = text.rstrip().endswith(":")
    if not cited:
        negated = _NEGATION.search(text)
        if negated and unsearched:
            missing = sorted(stem for stem in unsearched if re.search(r"\b" + stem, text))
            if missing:
                problems.append(
                    f"{sentence!r} says there is none, but no search of this turn looked for "
                    f"{', '.join(missing)}."
                )
        elif not negated and not heading and any(re.search(r"\b" + stem, text) for stem in _TOPICS):
            problems.append(f"{sentence!r} states a clinical fact but cites no evidence.")
        elif not negated and not heading and _named(text, vocabulary):
            problems.append(
                f"{sentence!r} names {', '.join(_named(text, vocabulary))} but cites no evidence."
            )
        # A heading ("Active medications in the record:") introduces the cited list below.
        if qualifiers and not negated and not heading:
            problems.append(
                f"{sentence!r} states a finding ({', '.join(qualifiers)}) but cites no evidence."
            )
        return problems
    lines = " ".join(evidence[r] for r in cited).lower()
    clinical_lines = " ".join(evidence[r] for r in cited if not r.startswith("Patient/")).lower()
    for word in qualifiers:
        if not _supported(QUALIFIERS[word], clinical_lines):
            problems.append(f"The claim {word!r} in {sentence!r} is not in the evidence it cites.")
    negation = _NEGATION.search(_META_NEGATION.sub(" ", text))
    if negation and not _LINE_NEGATION.search(clinical_lines):
        problems.append(
            f"The negation {negation.group(0)!r} in {sentence!r} is not in the evidence it cites."
        )
    kinds = {r.split("/", 1)[0] for r in cited}
    for stem, types in _TOPICS.items():
        if (
            re.search(r"\b" + stem, text)
            and not kinds & set(types)
            and not re.search(r"\b" + stem, clinical_lines)
        ):
            problems.append(f"{sentence!r} speaks of {stem}... but cites no such record.")
    missing = sorted(
        w
        for w in set(_words(text)) & vocabulary.names
        if not re.search(r"\b" + re.escape(w) + r"\b", lines)
    )
    missing += sorted(
        w
        for w in _named(text, vocabulary)
        if w not in vocabulary.names and not _supported(vocabulary.curated[w], lines)
    )
    if missing:
        problems.append(
            f"{sentence!r} names {', '.join(missing)}, which the evidence it cites does not."
        )
    return problems


def _named(text: str, vocabulary: ClaimVocabulary) -> list[str]:
    """The thread's and the curated vocabularies' names ``text`` (lower case) uses."""
    words = set(_words(text))
    return sorted(words & (vocabulary.names | vocabulary.curated.keys()))


def _designation_problems(
    sentence: str, text: str, cited: list[str], evidence: Mapping[str, str]
) -> list[str]:
    """A sentence calling someone the PCP without the record's designation behind it (see
    the module docstring); saying the record names none is a report, not a claim, and the
    words of a name the cited lines hold are the record's, quoted."""
    if not _DESIGNATION.search(text) or _NEGATION.search(text):
        return []
    lines = [line.lower() for line in ([evidence[r] for r in cited] or evidence.values())]
    if any(_DESIGNATED in line for line in lines):
        return []
    said = " ".join(lines)  # a name the record gives ("Primary Care Associates") is quoted
    if all(_supported((m.group(0),), said) for m in _DESIGNATION.finditer(text)):
        return []
    return [
        f"{sentence!r} calls someone the primary care provider, but the record names none "
        "in the evidence it cites (no generalPractitioner)."
    ]
