"""How a FHIR ``HumanName`` becomes text: one rendering for every list, line and question.

A Patient (or Practitioner) may carry several names; the one shown is the ``official``
name, else the first.  It reads "Given Family" (every given name, then the family), or
the name's ``text`` when it has no family; Synthea appends digits to make names unique
("Milton509 Ortiz186"), which :func:`plain_name` drops for people reading or typing
them.  Record text is data: callers that put a name into model-facing text still pass
it through the record-text filter (``tools.inert_text``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["display_name", "name_texts", "official_name", "plain_name", "render_name"]

_DIGITS = re.compile(r"\d+")


def _names(resource: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    names = resource.get("name")
    return [n for n in names if isinstance(n, Mapping)] if isinstance(names, list) else []


def official_name(resource: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``official`` HumanName, else the first; ``None`` when there is none."""
    names = _names(resource)
    return next((n for n in names if n.get("use") == "official"), names[0] if names else None)


def render_name(name: Mapping[str, Any], *, given_limit: int | None = None) -> str:
    """ "Given Family" from one HumanName (``text`` when it has no family); ``given_limit``
    keeps only the first given names (1: "Milton Ortiz" rather than "Milton James Ortiz")."""
    text, family = name.get("text"), name.get("family")
    if isinstance(text, str) and not (isinstance(family, str) and family):
        return text
    given = [g for g in name.get("given") or [] if isinstance(g, str)]
    parts = [*given[:given_limit], *([family] if isinstance(family, str) and family else [])]
    return " ".join(parts)


def display_name(resource: Mapping[str, Any], *, given_limit: int | None = None) -> str:
    """The resource's official (else first) name rendered; empty when it has none."""
    chosen = official_name(resource)
    return "" if chosen is None else render_name(chosen, given_limit=given_limit)


def plain_name(text: str) -> str:
    """A name without Synthea's uniqueness digits ("Milton509 Ortiz186" -> "Milton Ortiz")."""
    return " ".join(_DIGITS.sub("", text).split())


def name_texts(resource: Mapping[str, Any], *, with_prefix: bool = False) -> list[str]:
    """Every name of the resource as "Given Family", and each name's ``text``, in order.

    ``with_prefix`` adds "Prefix Given Family" ("Dr. Milton Ortiz") for a name with a
    prefix: the loader matches a reference's display, which Synthea writes that way.
    """
    texts: list[str] = []
    for name in _names(resource):
        given = [g for g in name.get("given") or [] if isinstance(g, str)]
        family = name.get("family")
        last = [family] if isinstance(family, str) else []
        texts.append(" ".join([*given, *last]))
        prefix = [p for p in name.get("prefix") or [] if isinstance(p, str)]
        if with_prefix and prefix:
            texts.append(" ".join([*prefix, *given, *last]))
        if isinstance(name.get("text"), str):
            texts.append(str(name["text"]))
    return [t for t in texts if t.strip()]
