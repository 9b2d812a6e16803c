"""Names a module offers but imports only when first asked for (PEP 562).

Why: ``fhir_client``, ``fhir_client.embedded`` and the store each offer a few names whose
modules are costly to import (the HTTP client, the search parser, the write path), and a
command that never uses them (``ehr-agent patients``) must not pay for them. The module
sets ``__getattr__ = lazy_attributes(__name__, {name: module})`` and imports the same
names under ``TYPE_CHECKING`` for the type checker.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(module: str, lazy: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``lazy[name]`` and returns its ``name``."""

    def attribute(name: str) -> Any:
        if name in lazy:
            return getattr(importlib.import_module(lazy[name]), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return attribute
