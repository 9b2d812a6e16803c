"""The tool registry the agent plans over: name, description, argument schema, callable.

Descriptions are the tools' docstrings, so the text the model reads and the code cannot
drift apart.  ``billing`` is registered but off by default: claims and explanations of
benefit are bulk a clinical answer rarely needs, so the agent offers it only on request.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tools.evidence import ToolResult
from tools.schemas import TOOL_SCHEMAS, ToolArgumentError, validate_arguments
from tools.toolset import PatientToolset

__all__ = ["DEFAULT_TOOLS", "TOOLS", "ToolSpec", "run_tool"]


@dataclass(frozen=True)
class ToolSpec:
    """One tool as the agent sees it."""

    name: str
    description: str
    parameters: dict[str, Any]
    enabled_by_default: bool = True

    def bind(self, toolset: PatientToolset) -> Callable[..., Awaitable[ToolResult]]:
        """The tool's coroutine function on a given patient's toolset."""
        function: Callable[..., Awaitable[ToolResult]] = getattr(toolset, self.name)
        return function


def _description(name: str) -> str:
    doc = inspect.getdoc(getattr(PatientToolset, name)) or name
    return " ".join(doc.split())


TOOLS: dict[str, ToolSpec] = {
    name: ToolSpec(
        name=name,
        description=_description(name),
        parameters=schema,
        enabled_by_default=name != "billing",
    )
    for name, schema in TOOL_SCHEMAS.items()
}

DEFAULT_TOOLS: tuple[str, ...] = tuple(n for n, spec in TOOLS.items() if spec.enabled_by_default)


async def run_tool(toolset: PatientToolset, name: str, arguments: dict[str, Any]) -> ToolResult:
    """Validate ``arguments`` against the tool's schema, then call it.

    Raises ``ToolArgumentError`` (a ``ValueError``) with a message the agent can feed back
    to the model when the name or arguments are wrong.
    """
    if name not in TOOLS:
        raise ToolArgumentError(f"unknown tool {name!r}; known tools: {', '.join(TOOLS)}")
    clean = validate_arguments(name, arguments)
    return await TOOLS[name].bind(toolset)(**clean)
