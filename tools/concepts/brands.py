"""Brand and other drug names -> generic ingredient names ("Plavix" -> clopidogrel).

The table is the one shipped by ``drug-named-entity-recognition`` (MIT licence, Fast Data
Science; built from DrugBank, MeSH, Wikipedia and the NHS medicines list: about 107,000
name variants for 20,000 drugs).  Only its data file is read, located through the
package's installed metadata, so importing it never starts the library's own n-gram index
or network features.  It is read once, lazily: only a word that neither the record nor the
curated vocabularies know costs the ~0.6 s load.
"""

from __future__ import annotations

import bz2
import logging
import pickle
from functools import cache
from importlib import metadata

from tools.vocabulary import normalize_name

__all__ = ["BRAND_SOURCE", "generic_names"]

logger = logging.getLogger("tools.concepts")

BRAND_SOURCE = (
    "drug-named-entity-recognition (MIT, Fast Data Science): DrugBank, MeSH, Wikipedia "
    "and NHS drug name variants"
)
_DISTRIBUTION = "drug-named-entity-recognition"
_DATA_FILE = "drug_ner_dictionary.pkl.bz2"


@cache
def _variants() -> dict[str, list[str]]:
    try:
        files = metadata.files(_DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        logger.warning("%s is not installed: brand names are not resolved", _DISTRIBUTION)
        return {}
    for file in files:
        if file.name == _DATA_FILE:
            with bz2.open(str(file.locate()), "rb") as handle:
                # The data file of an installed package: trusted as much as its code.
                data = pickle.load(handle)
            table = data.get("drug_variant_to_canonical") if isinstance(data, dict) else None
            return table if isinstance(table, dict) else {}
    logger.warning("%s has no %s: brand names are not resolved", _DISTRIBUTION, _DATA_FILE)
    return {}


def generic_names(name: str) -> tuple[str, ...]:
    """The generic names a drug name stands for ("plavix" -> ("clopidogrel",)), or ().

    A generic name maps to itself, so callers check ``!= (name,)`` for a real brand.
    """
    key = normalize_name(name)
    if len(key) < 3:
        return ()
    found = _variants().get(key)
    if not found:
        return ()
    return tuple(dict.fromkeys(normalize_name(g) for g in found if isinstance(g, str)))
