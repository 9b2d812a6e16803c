"""The curated vocabularies, loaded once from the TOML files in ``tools/concepts/data``.

Each file records where its list came from (its ``source`` key); this module only reads
them into typed, normalised lookups.  Observation names and LOINC codes stay in
``tools.vocabulary`` (one place for each fact): lab panels name its labels.

- abbreviations, lay terms, word forms: a phrase -> the words the record's displays use,
  or a ``class:NAME`` / ``panel:NAME`` reference, or ``condition:WORDS`` (words matched
  in conditions only: a lay name of a disorder), or ``care:WORDS`` (matched in
  procedures, encounters and care plans only: a kind of care given); or
  ``{ same_as = "KEY" }``: the same expansions as another phrase of the same file, so a
  long list is written once;
- drug classes: names of the class -> ingredient names (and RxNorm ingredient ids);
- lab panels: names -> observation concepts;
- encounter classes: names -> HL7 v3 ActCode;
- social findings: what makes a Condition a social finding rather than a problem.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from tools.vocabulary import (
    OBSERVATION_CONCEPTS,
    ObservationConcept,
    normalize_name,
)

__all__ = [
    "DrugClass",
    "EncounterClass",
    "LabPanel",
    "Vocabularies",
    "resolve_same_as",
    "vocabularies",
]


@dataclass(frozen=True)
class DrugClass:
    """A drug class ("anticoagulant"): its names, ATC groups and ingredients."""

    key: str
    label: str
    names: tuple[str, ...]
    atc: tuple[str, ...]
    ingredients: tuple[str, ...]
    rxnorm_ingredients: tuple[str, ...]
    indications: tuple[str, ...] = ()
    """What the class is taken for, as clinicians say it ("pressure", "sugar"): "what is
    he taking for his pressure" asks for this class (normalised)."""


@dataclass(frozen=True)
class LabPanel:
    """A lab panel ("kidney function") and the observation concepts it groups."""

    key: str
    label: str
    names: tuple[str, ...]
    members: tuple[ObservationConcept, ...]
    monitors: tuple[str, ...] = ()
    """What the panel is followed for ("diabetes", "blood pressure"), normalised: a
    question whether it is controlled is shown the panel's results (no judgement)."""


@dataclass(frozen=True)
class EncounterClass:
    """An HL7 v3 encounter class code and the words clinicians use for it."""

    code: str
    label: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class Vocabularies:
    """Every curated list, normalised for lookup, with each file's recorded source."""

    phrases: dict[str, tuple[str, ...]]
    """Abbreviation, lay term or word form -> expansions (words, ``class:``, ``panel:``)."""
    abbreviations: frozenset[str]
    """The keys of ``abbreviations.toml`` alone: clinical shorthand ("afib", "copd"), as
    opposed to the lay terms and word forms, which are also everyday words."""
    drug_classes: dict[str, DrugClass]
    class_names: dict[str, str]
    """Normalised class name -> class key."""
    indication_classes: dict[str, str]
    """Normalised indication ("blood pressure", "sugar") -> the class taken for it."""
    lab_panels: dict[str, LabPanel]
    panel_names: dict[str, str]
    monitoring_panels: dict[str, str]
    """Normalised condition or measure ("hypertension", "a1c") -> the panel followed for it."""
    encounter_classes: dict[str, EncounterClass]
    encounter_class_names: dict[str, str]
    social_categories: frozenset[str]
    social_words: tuple[str, ...]
    ingredients: frozenset[str]
    """Every ingredient any drug class names (a known drug name)."""
    expansion_targets: frozenset[str]
    """Every plain phrase an entry expands to, and every ingredient (known clinical terms)."""
    words: frozenset[str]
    """Every single word of every vocabulary (spelling correction compares against them)."""
    sources: dict[str, str]
    """File name -> where its list came from."""

    def is_known_phrase(self, phrase: str) -> bool:
        """True when ``phrase`` (normalised) is a term any vocabulary defines or targets."""
        key = normalize_name(phrase)
        return (
            key in self.phrases
            or key in self.class_names
            or key in self.panel_names
            or key in self.encounter_class_names
            or key in self.expansion_targets
        )


def _read(name: str) -> dict[str, Any]:
    text = resources.files("tools.concepts").joinpath("data").joinpath(name).read_text("utf-8")
    data = tomllib.loads(text)
    if not isinstance(data.get("source"), str) or not data["source"].strip():
        raise ValueError(f"vocabulary {name} does not record its source")
    return data


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where} must be a list of strings")
    return tuple(value)


def resolve_same_as(name: str, terms: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Each phrase of one file's ``[terms]`` -> its expansions, ``same_as`` references resolved.

    Why at load time: synonyms of one umbrella ("heart trouble", "cardiac", "heart") share
    one long list; written once and referred to, the copies cannot drift apart.  A
    reference names a key of the same file (exactly as written there) and may lead to
    another reference; an unknown key or a cycle is a load error naming the chain.
    """
    resolved: dict[str, tuple[str, ...]] = {}

    def expand(key: str, chain: tuple[str, ...]) -> tuple[str, ...]:
        if key in resolved:
            return resolved[key]
        value = terms[key]
        if not isinstance(value, dict):
            resolved[key] = _strings(value, f"{name}: {key}")
            return resolved[key]
        target = value.get("same_as")
        if set(value) != {"same_as"} or not isinstance(target, str):
            raise ValueError(f'{name}: {key} must be a list of strings or {{ same_as = "KEY" }}')
        path = " -> ".join(repr(k) for k in (*chain, key, target))
        if target not in terms:
            raise ValueError(f"{name}: same_as names no term of the file: {path}")
        if target in (*chain, key):
            raise ValueError(f"{name}: circular same_as: {path}")
        resolved[key] = expand(target, (*chain, key))
        return resolved[key]

    return {key: expand(key, ()) for key in terms}


def _phrases(files: tuple[str, ...], sources: dict[str, str]) -> dict[str, tuple[str, ...]]:
    phrases: dict[str, tuple[str, ...]] = {}
    for name in files:
        data = _read(name)
        sources[name] = data["source"]
        for key, expansions in resolve_same_as(name, data["terms"]).items():
            normal = normalize_name(key)
            phrases[normal] = tuple(dict.fromkeys((*phrases.get(normal, ()), *expansions)))
    return phrases


def _drug_classes(sources: dict[str, str]) -> tuple[dict[str, DrugClass], dict[str, str]]:
    data = _read("drug_classes.toml")
    sources["drug_classes.toml"] = data.pop("source")
    classes: dict[str, DrugClass] = {}
    names: dict[str, str] = {}
    for key, entry in data.items():
        drug_class = DrugClass(
            key=key,
            label=str(entry["label"]),
            names=_strings(entry["names"], key),
            atc=_strings(entry.get("atc", []), key),
            ingredients=tuple(normalize_name(i) for i in _strings(entry["ingredients"], key)),
            rxnorm_ingredients=_strings(entry.get("rxnorm_ingredients", []), key),
            indications=tuple(
                normalize_name(i) for i in _strings(entry.get("indications", []), key)
            ),
        )
        classes[key] = drug_class
        for label in (*drug_class.names, drug_class.label, key.replace("_", " ")):
            names.setdefault(normalize_name(label), key)
    return classes, names


def _lab_panels(sources: dict[str, str]) -> tuple[dict[str, LabPanel], dict[str, str]]:
    data = _read("lab_panels.toml")
    sources["lab_panels.toml"] = data.pop("source")
    by_label = {c.label: c for c in OBSERVATION_CONCEPTS}
    panels: dict[str, LabPanel] = {}
    names: dict[str, str] = {}
    for key, entry in data.items():
        unknown = [m for m in entry["members"] if m not in by_label]
        if unknown:
            raise ValueError(f"lab panel {key}: {unknown} are not tools.vocabulary labels")
        panel = LabPanel(
            key=key,
            label=str(entry["label"]),
            names=_strings(entry["names"], key),
            members=tuple(by_label[m] for m in entry["members"]),
            monitors=tuple(normalize_name(m) for m in _strings(entry.get("monitors", []), key)),
        )
        panels[key] = panel
        for label in (*panel.names, panel.label):
            names.setdefault(normalize_name(label), key)
    return panels, names


def _encounter_classes(
    sources: dict[str, str],
) -> tuple[dict[str, EncounterClass], dict[str, str]]:
    data = _read("encounter_classes.toml")
    sources["encounter_classes.toml"] = data.pop("source")
    classes: dict[str, EncounterClass] = {}
    names: dict[str, str] = {}
    for code, entry in data.items():
        encounter_class = EncounterClass(
            code=code, label=str(entry["label"]), names=_strings(entry["names"], code)
        )
        classes[code] = encounter_class
        for label in (*encounter_class.names, encounter_class.label):
            names.setdefault(normalize_name(label), code)
    return classes, names


@cache
def vocabularies() -> Vocabularies:
    """Every vocabulary, read and checked once per process."""
    sources: dict[str, str] = {}
    phrases = _phrases(
        ("abbreviations.toml", "lay_terms.toml", "word_forms.toml"),
        sources,
    )
    drug_classes, class_names = _drug_classes(sources)
    lab_panels, panel_names = _lab_panels(sources)
    encounter_classes, encounter_class_names = _encounter_classes(sources)
    social = _read("social_findings.toml")
    sources["social_findings.toml"] = social["source"]
    for targets in phrases.values():
        for target in targets:
            kind, _, key = target.partition(":")
            if key and kind == "class" and key not in drug_classes:
                raise ValueError(f"vocabulary names unknown drug class {key!r}")
            if key and kind == "panel" and key not in lab_panels:
                raise ValueError(f"vocabulary names unknown lab panel {key!r}")
    return Vocabularies(
        phrases=phrases,
        abbreviations=frozenset(
            normalize_name(key) for key in _read("abbreviations.toml")["terms"]
        ),
        drug_classes=drug_classes,
        class_names=class_names,
        indication_classes={
            indication: c.key for c in drug_classes.values() for indication in c.indications
        },
        lab_panels=lab_panels,
        panel_names=panel_names,
        monitoring_panels={m: p.key for p in lab_panels.values() for m in p.monitors},
        encounter_classes=encounter_classes,
        encounter_class_names=encounter_class_names,
        social_categories=frozenset(
            normalize_name(c) for c in _strings(social["categories"], "categories")
        ),
        social_words=tuple(normalize_name(w) for w in _strings(social["words"], "words")),
        ingredients=frozenset(i for c in drug_classes.values() for i in c.ingredients),
        expansion_targets=frozenset(
            (
                *(normalize_name(t) for ts in phrases.values() for t in ts if ":" not in t),
                *(i for c in drug_classes.values() for i in c.ingredients),
            )
        ),
        words=frozenset(
            word
            for phrase in (
                *phrases,
                *(normalize_name(t) for ts in phrases.values() for t in ts if ":" not in t),
                *class_names,
                *panel_names,
                *(i for c in drug_classes.values() for i in c.ingredients),
            )
            for word in phrase.split()
            if len(word) >= 4
        ),
        sources=sources,
    )
