"""The tools' argument schemas by name, derived from their signatures (``tools.declare``).

Kept as a module so callers that want only the schemas (``TOOL_SCHEMAS``) or the
validation (``validate_arguments``) import them from one place; nothing here is written
by hand any more.
"""

from __future__ import annotations

from typing import Any

from tools.declare import ToolArgumentError
from tools.registry import TOOLS, validate_arguments

__all__ = ["TOOL_SCHEMAS", "ToolArgumentError", "validate_arguments"]

TOOL_SCHEMAS: dict[str, dict[str, Any]] = {name: spec.parameters for name, spec in TOOLS.items()}
