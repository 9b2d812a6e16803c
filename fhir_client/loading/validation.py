"""Check resources against the FHIR R4 model before anything is sent.

A server would reject a malformed resource too, but only with a message
about "the transaction"; checking here lets the error name the file, the
entry and the field. fhir.resources' default models are R5, which rejects
Synthea's R4 output, hence the ``R4B`` package (R4B's resources match R4's
for everything Synthea writes). Measured cost: see the loader's docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError


def resource_problem(resource: Mapping[str, Any]) -> str | None:
    """Describe the first thing wrong with ``resource``, or ``None`` if it is valid R4.

    fhir.resources is imported on the first check, not with the loader: it costs about
    0.1 s of start-up, and ``load --no-validate`` never checks.
    """
    from fhir.resources.R4B import get_fhir_model_class

    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        return "the resource has no resourceType"
    try:
        model = get_fhir_model_class(resource_type)
    except ValueError:
        return f"{resource_type!r} is not a FHIR R4 resource type"
    try:
        model.model_validate(resource)
    except ValidationError as error:
        first = error.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "(resource)"
        # The offending value is record content: name its type, never quote it, so no
        # patient data reaches a message, a log or a traceback.
        found = type(first.get("input")).__name__
        return f"{resource_type}.{location}: {first['msg']} (got a {found})"
    return None
