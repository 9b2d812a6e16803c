"""``_summary=true|text|data``: the R4 summary views of a stored resource.

What is a summary element comes from the element definitions, never from a hand
list: fhir.resources' R4B models carry the spec's ``isSummary`` flag
(``summary_element_property``) and its minimum cardinality on every field of every
resource, backbone element and data type. R4B is a technical correction of R4 (4.0.1) that
kept the resources the store holds; the package ships no 4.0.1 models. Minimum
cardinality is spread over three markers there: a required complex element is a
required pydantic field, a required primitive has ``element_required`` (its value
may sit in the ``_name`` extension twin instead), a required choice has
``one_of_many_required``.

The views, as R4's search page defines them (http://hl7.org/fhir/R4/search.html#summary):

- ``true``: "solely ... the elements marked as summary" (R4's words), at every level, as
  the flags are defined at every level: ``Observation.component`` is kept and within it
  ``code`` and ``value[x]``, but not ``referenceRange``; the ``extension`` of any
  element is not a summary element. A mandatory element that R4 does not mark as summary
  (``Provenance.agent``) is left out, as HAPI leaves it out.
- ``text``: ``text``, ``id``, ``meta`` and the top-level mandatory elements.
- ``data``: everything except ``text``, also of each contained resource (tagged too, as
  HAPI does).

Each is marked with the ``SUBSETTED`` tag, as ``_elements`` results are, so a client
never mistakes a summary for the whole resource. Only a request that asks for a
view pays for parsing the stored JSON.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import orjson

from fhir_client.embedded.elements import mark_subsetted
from fhir_client.embedded.errors import SearchError

SummaryView = Literal["true", "text", "data"]
SUMMARY_VIEWS: tuple[SummaryView, ...] = ("true", "text", "data")
#: Kept in every view: they say what the resource is and that it is a subset.
_ALWAYS = frozenset({"resourceType", "id", "meta"})


@dataclass(frozen=True, slots=True)
class ElementRule:
    """What the definitions say of one JSON key of a type."""

    summary: bool
    mandatory: bool
    #: The type's own elements, when it is a backbone element or a complex data type.
    nested: str | None


def parse_summary(raw: str) -> SummaryView | None:
    """The view asked for; None for ``false``. ``count`` is the caller's business."""
    if raw == "false":
        return None
    if raw in SUMMARY_VIEWS:
        return raw
    raise SearchError(f"_summary must be true, text, data, count or false, got {raw!r}")


def _model_class(type_name: str) -> Any:
    """fhir.resources' model for ``type_name``, imported on the first ``_summary`` request
    (the import costs start-up time every command that opens the store would pay)."""
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(type_name)


def _model_name(annotation: object) -> str | None:
    """The fhir.resources model an annotation refers to (``abc.CodingType`` -> Coding)."""
    for arg in typing.get_args(annotation) or (annotation,):
        inner = _model_name(arg) if typing.get_args(arg) else None
        if inner:
            return inner
        name = getattr(arg, "__name__", "")
        if name.endswith("Type") and name not in ("NoneType", "ResourceType"):
            candidate = name.removesuffix("Type")
            try:
                model = _model_class(candidate)
            except (KeyError, ValueError, AttributeError):
                continue
            if getattr(model, "model_fields", None):
                return candidate
    return None


@cache
def element_rules(type_name: str) -> dict[str, ElementRule]:
    """JSON key -> rule for a resource, backbone element or data type (cached per type)."""
    try:
        model = _model_class(type_name)
    except (KeyError, ValueError, AttributeError):
        return {}
    rules: dict[str, ElementRule] = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if not extra.get("element_property"):
            continue
        key = info.alias or name
        nested = _model_name(info.annotation)
        rule = ElementRule(
            summary=bool(extra.get("summary_element_property")),
            mandatory=info.is_required()
            or bool(extra.get("element_required") or extra.get("one_of_many_required")),
            nested=nested if nested not in (None, "Resource", type_name) else None,
        )
        rules[key] = rule
    return rules


def _summary_of(value: Any, type_name: str) -> Any:
    """``value`` (a dict or a list of dicts of ``type_name``) cut to its summary elements."""
    if isinstance(value, list):
        return [_summary_of(item, type_name) for item in value]
    if not isinstance(value, dict):
        return value
    rules = element_rules(type_name)
    kept: dict[str, Any] = {}
    for key, item in value.items():
        # `_status` carries the id and extensions of the primitive `status`.
        rule = rules.get(key.removeprefix("_"))
        if key in _ALWAYS and type_name == value.get("resourceType"):
            kept[key] = item
        elif rule is not None and rule.summary:
            kept[key] = _summary_of(item, rule.nested) if rule.nested else item
    return kept


def summarize(resource: dict[str, Any], view: SummaryView) -> dict[str, Any]:
    """The ``view`` of a resource, tagged SUBSETTED."""
    rtype = str(resource.get("resourceType", ""))
    if view == "true":
        kept = _summary_of(resource, rtype)
    elif view == "text":
        rules = element_rules(rtype)
        kept = {
            key: value
            for key, value in resource.items()
            if key in _ALWAYS
            or key == "text"
            or (rules.get(key.removeprefix("_")) or ElementRule(False, False, None)).mandatory
        }
    else:
        kept = {key: value for key, value in resource.items() if key != "text"}
        if isinstance(kept.get("contained"), list):
            kept["contained"] = [
                summarize(item, "data") if isinstance(item, dict) else item
                for item in kept["contained"]
            ]
    return mark_subsetted(kept)


def summarize_text(text: str, view: SummaryView | None) -> str:
    """``summarize`` over stored JSON text; the text itself when no view is asked."""
    if view is None:
        return text
    return orjson.dumps(summarize(orjson.loads(text), view)).decode()
