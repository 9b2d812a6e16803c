"""Concepts resolved against the patient's own record.

    record = await load_record(scope)             # Patient/$everything, bounded, scoped
    index = build_index(record)                   # every coded name, by family
    resolution = resolve("blood thinners", index)
    resolution.status      # "found" | "none_found" | "not_understood"
    resolution.matches     # ConceptMatch(family, name, references, ...), grouped by family
    resolution.absence()   # "No anticoagulant or antiplatelet among 312 medication orders
                           #  (searched for warfarin, heparin, ...)." or None

``PatientToolset.resolve_concept(text)`` does all three with the index cached per toolset.
The curated vocabularies are TOML files in ``tools/concepts/data`` (each records its
source); brand names come from the ``drug-named-entity-recognition`` package.
"""

from tools.concepts.families import FAMILIES, FAMILY_NOUNS, FAMILY_TOOLS, FAMILY_TYPES, Family
from tools.concepts.index import IndexEntry, RecordIndex, build_index, is_social_condition
from tools.concepts.record import PatientRecord, load_record
from tools.concepts.resolve import (
    ConceptMatch,
    ConceptResolution,
    Expansion,
    SearchedFamily,
    Status,
    resolve,
)
from tools.concepts.vocabularies import vocabularies

__all__ = [
    "FAMILIES",
    "FAMILY_NOUNS",
    "FAMILY_TOOLS",
    "FAMILY_TYPES",
    "ConceptMatch",
    "ConceptResolution",
    "Expansion",
    "Family",
    "IndexEntry",
    "PatientRecord",
    "RecordIndex",
    "SearchedFamily",
    "Status",
    "build_index",
    "is_social_condition",
    "load_record",
    "resolve",
    "vocabularies",
]
