"""The tool registry the agent plans over, derived from the toolset's typed methods.

Every coroutine of ``PatientToolset`` marked ``@tool`` (``tools.declare``) is a tool: its
name is the method's, its description the docstring, its argument schema and validation
come from the signature through pydantic.  Adding a tool is a marked method (with its
small spec in the mark) plus its name in ``ToolName``.  ``billing`` is marked off by
default: claims and explanations of benefit are bulk a clinical answer rarely needs, so
the agent offers it only on request.

``ToolName`` (``tools.declare``) spells the product's tool names for the type checker;
this module refuses to import when it and the toolset's tools disagree.  What the agent
knows of a tool beyond its signature is on its ``ToolSpec`` (from the ``@tool`` mark
beside the method); code asks the spec, never a table keyed by name.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import BaseModel

from tools.declare import (
    Phrasing,
    ToolArgumentError,
    ToolKind,
    ToolMark,
    ToolName,
    arguments_model,
    json_schema,
    tool_mark,
    validate,
)
from tools.evidence import ToolResult
from tools.toolset import PatientToolset

__all__ = [
    "DEFAULT_TOOLS",
    "TOOLS",
    "ToolName",
    "ToolSpec",
    "check_tool_names",
    "run_tool",
    "spec_of",
    "tool_specs",
    "validate_arguments",
]


@dataclass(frozen=True)
class ToolSpec:
    """One tool as the agent sees it."""

    name: str
    description: str
    enabled_by_default: bool = True
    noun: str = ""
    function: Callable[..., Any] | None = field(default=None, repr=False, compare=False)
    """The marked method: its signature is the source of ``arguments`` and ``parameters``."""
    mark: ToolMark = field(default_factory=lambda: ToolMark(""), repr=False)
    """The rest of the spec declared beside the method (``tools.declare.ToolMark``)."""

    # Built on first use, once: a pydantic model per tool built for every tool at import
    # cost every ``ask`` start-up about 25 ms, and a turn uses one or two tools.
    @functools.cached_property
    def arguments(self) -> type[BaseModel] | None:
        """A pydantic model of the tool's arguments (None for a spec without a function)."""
        return None if self.function is None else arguments_model(self.function)

    @functools.cached_property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the tool's arguments, derived from its signature."""
        return {} if self.arguments is None else json_schema(self.arguments)

    @property
    def kind(self) -> ToolKind:
        return self.mark.kind

    @property
    def record_wide(self) -> bool:
        return self.mark.record_wide

    @property
    def family(self) -> str | None:
        return self.mark.family

    @property
    def topics(self) -> tuple[str, ...]:
        """The words an answer names this tool's retrieval with (the name by default)."""
        return self.mark.topics or (self.name.replace("_", " "),)

    @property
    def phrasing(self) -> Phrasing:
        return self.mark.phrasing

    @property
    def count_nouns(self) -> tuple[str, str] | None:
        """(singular, plural) of a count of its items; None when counts are not its."""
        if not self.mark.phrasing.counts:
            return None
        one = self.mark.phrasing.one or self.noun.removesuffix("s")
        return one, self.noun

    @property
    def listed(self) -> str:
        """How the extractive answer names the items (the name with spaces by default)."""
        return self.mark.phrasing.listed or self.name.replace("_", " ")

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
                enabled_by_default=mark.enabled_by_default,
                noun=mark.noun,
                function=member,
                mark=mark,
            )
    return specs


TOOLS: dict[str, ToolSpec] = tool_specs(PatientToolset)

DEFAULT_TOOLS: tuple[str, ...] = tuple(n for n, spec in TOOLS.items() if spec.enabled_by_default)


def check_tool_names(specs: dict[str, ToolSpec]) -> None:
    """Refuse a toolset whose tools and ``ToolName`` disagree, saying what to change."""
    named = set(get_args(ToolName))
    if named != set(specs):
        raise ImportError(
            "tools.declare.ToolName and the toolset's @tool methods disagree: "
            f"only in ToolName {sorted(named - set(specs))}, "
            f"only in the toolset {sorted(set(specs) - named)}; "
            "name every tool in ToolName (and nothing else)"
        )


check_tool_names(TOOLS)


def spec_of(tool: str | None) -> ToolSpec | None:
    """The spec of the product tool named ``tool`` (None for no tool or an unknown one,
    such as a name a model made up: callers treat it as no known tool)."""
    return TOOLS.get(tool) if tool else None


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
