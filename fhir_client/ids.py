"""FHIR's id and reference grammar, and the citation ``[Type/id]``: written down once.

R4's ``id`` datatype is 1 to 64 characters from ``A-Z a-z 0-9 - .``; a resource type is
an ASCII PascalCase name ("Observation", "MedicationRequest"); a relative reference is
``Type/id``; an answer cites one as ``[Type/id]``.  URL segments, the API's path
parameters, the audit, the store's reference index, the record-text filter, the citation
verifier and replay's scorer all check these shapes; they take them from here, so a
change (a longer id, say) is one edit and no two checks can disagree about what an id is.

The ``*_PATTERN`` strings are unanchored, for building larger patterns and for
FastAPI/pydantic ``pattern=`` (use :data:`ID_PATH_PATTERN` there: anchored).
"""

from __future__ import annotations

import re
from typing import TypeGuard

__all__ = [
    "CITATION",
    "ID_CHARS",
    "ID_PATH_PATTERN",
    "ID_PATTERN",
    "MAX_ID_CHARS",
    "NOT_ID_CHAR",
    "REFERENCE_PATTERN",
    "RELATIVE_REFERENCE",
    "TYPE_PATH_PATTERN",
    "TYPE_PATTERN",
    "citations_in",
    "is_fhir_id",
    "is_resource_type",
    "split_reference",
]

MAX_ID_CHARS = 64
"""FHIR R4's limit on a logical id (the ``id`` datatype)."""

ID_CHARS = r"A-Za-z0-9\-."
"""The characters of a FHIR id, as the inside of a regex character class."""

ID_PATTERN = rf"[{ID_CHARS}]{{1,{MAX_ID_CHARS}}}"
TYPE_PATTERN = r"[A-Z][A-Za-z]{1,63}"
REFERENCE_PATTERN = rf"{TYPE_PATTERN}/{ID_PATTERN}"

ID_PATH_PATTERN = rf"^{ID_PATTERN}$"
"""An anchored id, for FastAPI ``Path(pattern=...)`` and JSON schemas."""
TYPE_PATH_PATTERN = rf"^{TYPE_PATTERN}$"
"""An anchored resource type name, for FastAPI ``Path(pattern=...)``."""

_ID = re.compile(ID_PATTERN)
_TYPE = re.compile(TYPE_PATTERN)
NOT_ID_CHAR = re.compile(rf"[^{ID_CHARS}]")
"""Any character an id may not hold (to strip or refuse them)."""

RELATIVE_REFERENCE = re.compile(
    rf"(?:^|/)(?P<type>{TYPE_PATTERN})/(?P<id>{ID_PATTERN})(?:/_history/[^/]+)?$"
)
"""``Type/id`` at the end of a reference (relative, absolute URL, or versioned)."""

CITATION = re.compile(rf"\[(?P<reference>{REFERENCE_PATTERN})\]")
"""A citation in an answer: ``[Observation/abc]``; the group is the reference."""


def is_fhir_id(text: object) -> TypeGuard[str]:
    """True for a valid FHIR logical id (so it can safely become a path segment)."""
    return isinstance(text, str) and _ID.fullmatch(text) is not None


def is_resource_type(text: object) -> TypeGuard[str]:
    """True for a name shaped like a FHIR resource type (not a check that R4 defines it)."""
    return isinstance(text, str) and _TYPE.fullmatch(text) is not None


def split_reference(reference: str) -> tuple[str, str] | None:
    """``("Observation", "abc")`` from ``Observation/abc``, a full URL or a versioned
    reference ending in one; ``None`` for anything else (``urn:uuid:``, a search)."""
    match = RELATIVE_REFERENCE.search(reference)
    return None if match is None else (match["type"], match["id"])


def citations_in(text: str) -> list[str]:
    """The references cited in ``text`` as ``[Type/id]``, in order, repeats kept."""
    return [match["reference"] for match in CITATION.finditer(text)]
