"""A tool is one typed function: its signature and docstring are the only source.

``@tool(noun=...)`` marks a coroutine method of the toolset as a tool.  Its parameters'
annotations (``Literal`` for choices, ``Annotated[int, Field(ge=1, le=...)]`` for bounds,
the shared ``DateText``/``Name`` types below) give pydantic everything to

- derive the JSON schema the planner's grammar is built from (``json_schema``): every
  string bounded, every array bounded, every integer bounded, no unknown keys, because
  an unbounded field lets a small model generate forever;
- validate a call's arguments (``validate``), from a model or any caller, with an error
  that says which argument was wrong and what is allowed;
- validate direct Python calls too (``validate_call``), so no tool restates its bounds.

The small spec beside it (``ToolMark``) carries what the rest of the agent needs to know
and the signature cannot say: the noun a count uses, whether the tool is offered by default,
the words an answer names its retrieval with (for the verifier), whether it searches the
whole record, the reading family it lists, its kind (which planning and answering rules
apply), and how the extractive answer phrases it.  Nothing else keeps a table keyed by a
tool's name: the agent reads these from ``tools.registry.TOOLS``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, cast, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, validate_call

from fhir_client.limits import (
    MAX_LISTED_ITEMS,
    MAX_LISTED_PLANS,
    MAX_NOTE_SNIPPETS,
    MAX_SERIES_VALUES,
)
from tools.matching import DATE_PATTERN

__all__ = [
    "DateText",
    "DrugName",
    "ListLimit",
    "Name",
    "NoteLimit",
    "Phrasing",
    "PlanLimit",
    "SeriesLimit",
    "ToolArgumentError",
    "ToolKind",
    "ToolMark",
    "ToolName",
    "arguments_model",
    "json_schema",
    "tool",
    "tool_mark",
    "validate",
]

DateText = Annotated[
    str, Field(pattern=DATE_PATTERN, max_length=10, description="YYYY, YYYY-MM or YYYY-MM-DD")
]
"""A period bound: a year, a month or a day; the window is inclusive."""
Name = Annotated[str, Field(min_length=1, max_length=60)]
"""A clinical name a clinician types ("HbA1c", "hypertension", "blood thinners")."""
DrugName = Annotated[str, Field(min_length=1, max_length=120)]
"""A drug name: full RxNorm names run long ("insulin isophane, human 70 UNT/ML ...")."""
Threshold = Annotated[float, Field(ge=-1e6, le=1e9)]
"""A number a result is compared with ("above 7")."""
SeriesLimit = Annotated[int, Field(ge=1, le=MAX_SERIES_VALUES)]
"""How many values a series tool returns (``fhir_client.limits`` names each ceiling)."""
ListLimit = Annotated[int, Field(ge=1, le=MAX_LISTED_ITEMS)]
"""How many items a list tool returns."""
PlanLimit = Annotated[int, Field(ge=1, le=MAX_LISTED_PLANS)]
"""How many care plans or goals a call returns."""
NoteLimit = Annotated[int, Field(ge=1, le=MAX_NOTE_SNIPPETS)]
"""How many notes a call quotes."""

_STRICT = ConfigDict(extra="forbid", strict=True)
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class ToolArgumentError(ValueError):
    """A tool was called with arguments its signature does not allow (message says which)."""


ToolName = Literal[
    "patient_overview",
    "lab_results",
    "vital_signs",
    "flagged_results",
    "encounters",
    "care_team",
    "procedures",
    "clinical_notes",
    "billing",
    "insurance",
    "conditions",
    "medications",
    "allergies",
    "immunizations",
    "care_plans",
    "goals",
    "search_record",
    "visit",
    "find_concept",
]
"""The product's tool names, for the type checker: code that names a tool (a planner rule,
a summary section, a tool's own result) takes a ``ToolName``, so mypy rejects a typo;
``tools.registry`` refuses to import when this list and the toolset's tools disagree."""

ToolKind = Literal["observation", "event", "list", "concept", "text", "single"]
"""What shape of answer a tool gives, which decides the planning and answering rules:

- ``observation``: values of one named lab or vital (latest, first, a series);
- ``event``: dated events, newest first, in a date window (visits, vaccines, procedures);
- ``list``: a status list of one family (problems, drugs, allergies, plans, goals);
- ``concept``: every record matched to a resolved concept (all of it is about the concept);
- ``text``: a search of free text (a snippet may mention what was ruled out);
- ``single``: anything else (demographics, billing, one visit).
"""


@dataclass(frozen=True)
class Phrasing:
    """How the extractive answer (``agent.extractive*``) names a tool's items."""

    listed: str = ""
    """In a listing or "No ... match" ("matching clinical notes"); empty: the tool's name
    with spaces."""
    counts: bool = False
    """A count question is answered by counting its items: "N <noun>" (``ToolMark.noun``)."""
    one: str = ""
    """The noun's singular ("vaccine dose"); empty: the noun without its final "s"."""
    searched: str | None = None
    """The noun of "none of the N ... in this record mentions X" when its list is the
    family a concept was looked for in; None: its list is not read that way."""
    newest: str | None = None
    """The noun of "the most recent ... was on" when a latest-question is answered by its
    newest dated item ("encounter"); None: it lists instead."""
    reports: bool = False
    """Its notes are the answer's first sentences (what was looked at, what the record
    does not say), always given, before its items: a report, not a listing."""


@dataclass(frozen=True)
class ToolMark:
    """What the agent needs to know of a tool beyond its signature."""

    noun: str
    """What its items are called in a count, plural ("vaccine doses", "encounters")."""
    enabled_by_default: bool = True
    kind: ToolKind = "single"
    topics: tuple[str, ...] = ()
    """Lower-case stems by which an answer names what the tool retrieves ("allerg"): the
    verifier refuses "no allergies" when this tool failed or did not run.  Empty: the
    name with spaces, and the tool bounds no statement of absence."""
    record_wide: bool = False
    """It looks through the whole record index, every family at once: having run, it
    counts as a search of every topic."""
    family: str | None = None
    """The reading family (``agent.reading.Family``) whose list this tool gives, when a
    resolved concept of that family makes its whole list redundant for the rule planner."""
    phrasing: Phrasing = Phrasing()


def tool(
    *,
    noun: str,
    enabled_by_default: bool = True,
    kind: ToolKind = "single",
    topics: tuple[str, ...] = (),
    record_wide: bool = False,
    family: str | None = None,
    phrasing: Phrasing = Phrasing(),
) -> Callable[[F], F]:
    """Mark a toolset coroutine as a tool and validate every call against its signature."""
    spec = ToolMark(
        noun,
        enabled_by_default,
        kind=kind,
        topics=topics,
        record_wide=record_wide,
        family=family,
        phrasing=phrasing,
    )

    def mark(function: F) -> F:
        # The validating wrapper is built on the tool's first call: building one per tool
        # when the toolset is defined cost every start-up (``ask``) about 20 ms for tools
        # the turn never calls.
        checked: list[Callable[..., Awaitable[Any]]] = []

        @functools.wraps(function)
        async def call(*args: Any, **kwargs: Any) -> Any:
            if not checked:
                checked.append(validate_call(config=ConfigDict(strict=True))(function))
            return await checked[0](*args, **kwargs)

        call.__tool__ = spec  # type: ignore[attr-defined]
        return cast(F, call)

    return mark


def tool_mark(function: Any) -> ToolMark | None:
    """The ``ToolMark`` of a function marked with ``@tool``, else None."""
    mark = getattr(function, "__tool__", None)
    return mark if isinstance(mark, ToolMark) else None


def arguments_model(function: Callable[..., Any]) -> type[BaseModel]:
    """A pydantic model of the function's parameters (``self`` left out)."""
    hints = get_type_hints(inspect.unwrap(function), include_extras=True)
    fields: dict[str, Any] = {}
    for name, parameter in inspect.signature(function).parameters.items():
        if name == "self":
            continue
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (hints[name], default)
    model: type[BaseModel] = create_model(
        f"{function.__name__}_arguments", __config__=_STRICT, **fields
    )
    return model


def _clean(node: Any) -> Any:
    """Pydantic's schema in the plain subset the grammar and the planner read."""
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {k: _clean(v) for k, v in node.items() if k != "title"}
    branches = node.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) == 1:
            node = {**kept[0], **{k: v for k, v in node.items() if k != "anyOf"}}
    if "enum" in node and node.get("type") == "string":
        node.setdefault("maxLength", max(len(str(v)) for v in node["enum"]))
    if node.get("default", "") is None:
        del node["default"]
    return node


def json_schema(function: Callable[..., Any] | type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of the function's arguments (or of its ``arguments_model``, which
    saves building the model twice): bounded, closed, no ``$defs``."""
    if isinstance(function, type) and issubclass(function, BaseModel):
        model = function
    else:
        model = arguments_model(function)
    schema = _clean(model.model_json_schema())
    schema.setdefault("required", [])
    schema["additionalProperties"] = False
    return {k: schema[k] for k in ("type", "properties", "required", "additionalProperties")}


def _message(error: Any, schema: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "arguments"
    key = str(error["loc"][0]) if error["loc"] else ""
    node = schema["properties"].get(key, {})
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return f"missing required argument(s) ['{where}']"
    if kind == "extra_forbidden":
        allowed = ", ".join(schema["properties"]) or "none"
        return f"unknown argument(s) ['{where}']; allowed: {allowed}"
    if kind == "string_too_long":
        return f"{where} is longer than {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"{where} must not be empty"
    if kind == "string_pattern_mismatch":
        hint = node.get("description") or f"the pattern {ctx.get('pattern')}"
        return f"{where}={error.get('input')!r} does not match {hint}"
    if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        return f"{where} must be between {node.get('minimum')} and {node.get('maximum')}"
    if kind == "too_long":
        return f"{where} has more than {ctx.get('max_length')} items"
    if kind == "literal_error":
        return f"{where} must be one of {', '.join(map(str, node.get('enum', [])))}"
    return f"{where}: {error['msg']}"


def validate(
    model: type[BaseModel], schema: dict[str, Any], arguments: dict[str, Any]
) -> dict[str, Any]:
    """Check ``arguments``; return them without ``None`` values, or raise with a reason."""
    if not isinstance(arguments, dict):
        raise ToolArgumentError("arguments must be an object")
    given = {k: v for k, v in arguments.items() if v is not None}
    try:
        model.model_validate(given)
    except ValidationError as error:
        first = error.errors()[0]
        raise ToolArgumentError(_message(first, schema)) from None
    return given
