"""The tools' argument schemas by name, derived from their signatures (``tools.declare``).

Kept as a module so callers that want only the schemas (``TOOL_SCHEMAS``) or the
validation (``validate_arguments``) import them from one place; nothing here is written
by hand any more.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tools.declare import ToolArgumentError
from tools.registry import TOOLS, validate_arguments

__all__ = ["TOOL_SCHEMAS", "ToolArgumentError", "validate_arguments"]


class _ToolSchemas(Mapping[str, dict[str, Any]]):
    """Each tool's schema read from its spec when asked: deriving all of them at import
    cost start-up time for tools a turn never plans."""

    def __getitem__(self, name: str) -> dict[str, Any]:
        return TOOLS[name].parameters

    def __iter__(self) -> Iterator[str]:
        return iter(TOOLS)

    def __len__(self) -> int:
        return len(TOOLS)


TOOL_SCHEMAS: Mapping[str, dict[str, Any]] = _ToolSchemas()
