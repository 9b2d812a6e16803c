"""The tool registry the agent plans over, derived from the toolset's typed methods.

Every coroutine of ``PatientToolset`` marked ``@tool`` (``tools.declare``) is a tool: its
name is the method's, its description the docstring, its argument schema and validation
come from the signature through pydantic.  Adding a tool is one edit: a marked method.
``billing`` is marked off by default: claims and explanations of benefit are bulk a
clinical answer rarely needs, so the agent offers it only on request.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from tools.declare import ToolArgumentError, arguments_model, json_schema, tool_mark, validate
from tools.evidence import ToolResult
from tools.toolset import PatientToolset

__all__ = ["DEFAULT_TOOLS", "TOOLS", "ToolSpec", "run_tool", "tool_specs", "validate_arguments"]


@dataclass(frozen=True)
class ToolSpec:
    """One tool as the agent sees it."""

    name: str
    description: str
    parameters: dict[str, Any]
    enabled_by_default: bool = True
    noun: str = ""
    arguments: type[BaseModel] | None = field(default=None, repr=False, compare=False)

    def bind(self, toolset: PatientToolset) -> Callable[..., Awaitable[ToolResult]]:
        """The tool's coroutine function on a given patient's toolset."""
        function: Callable[..., Awaitable[ToolResult]] = getattr(toolset, self.name)
        return function

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments without ``None`` values, or ``ToolArgumentError`` saying why."""
        assert self.arguments is not None
        return validate(self.arguments, self.parameters, arguments)


def tool_specs(toolset_class: type[PatientToolset]) -> dict[str, ToolSpec]:
    """Every ``@tool`` method of ``toolset_class`` (its own first, then its bases')."""
    specs: dict[str, ToolSpec] = {}
    for klass in toolset_class.__mro__:
        for name, member in vars(klass).items():
            mark = tool_mark(member)
            if mark is None or name in specs:
                continue
            doc = inspect.getdoc(member) or name
            specs[name] = ToolSpec(
                name=name,
                description=" ".join(doc.split()),
                parameters=json_schema(member),
                enabled_by_default=mark.enabled_by_default,
                noun=mark.noun,
                arguments=arguments_model(member),
            )
    return specs


TOOLS: dict[str, ToolSpec] = tool_specs(PatientToolset)

DEFAULT_TOOLS: tuple[str, ...] = tuple(n for n, spec in TOOLS.items() if spec.enabled_by_default)


def validate_arguments(
    tool: str, arguments: dict[str, Any], tools: dict[str, ToolSpec] | None = None
) -> dict[str, Any]:
    """Check ``arguments`` against the tool's signature; return them without ``None``s."""
    known = TOOLS if tools is None else tools
    if tool not in known:
        raise ToolArgumentError(f"unknown tool {tool!r}; known: {', '.join(known)}")
    return known[tool].validate(arguments)


async def run_tool(
    toolset: PatientToolset,
    name: str,
    arguments: dict[str, Any],
    tools: dict[str, ToolSpec] | None = None,
) -> ToolResult:
    """Validate ``arguments`` against the tool's signature, then call it.

    Raises ``ToolArgumentError`` (a ``ValueError``) with a message the agent can feed back
    to the model when the name or arguments are wrong.
    """
    known = TOOLS if tools is None else tools
    if name not in known:
        raise ToolArgumentError(f"unknown tool {name!r}; known tools: {', '.join(known)}")
    clean = validate_arguments(name, arguments, known)
    return await known[name].bind(toolset)(**clean)
