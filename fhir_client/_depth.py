"""The JSON nesting bound, apart from the codec so the embedded store can check it on
every write without importing httpx (opening the store stays light)."""

from __future__ import annotations

from typing import Any

from fhir_client.limits import MAX_JSON_DEPTH

__all__ = ["JsonTooDeep", "check_depth"]


class JsonTooDeep(ValueError):
    """JSON nested deeper than ``MAX_JSON_DEPTH``: no FHIR resource is, and code that
    walks it recursively would fail far from here with a RecursionError."""


def check_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`JsonTooDeep` if ``value`` nests objects/arrays more than ``limit`` deep.

    Iterative (an explicit stack), so a hostile document cannot make the check
    itself recurse. Costs about half a parse; FHIR resources are ~10 levels deep.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if depth > limit:
            raise JsonTooDeep(f"the JSON is nested more than {limit} levels deep")
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        for child in node:
            if isinstance(child, dict | list):
                push((child, depth + 1))
