"""Turning Python values into FHIR request parts and FHIR responses into dicts.

Responses stay plain JSON dicts (no pydantic validation: far too slow for whole records),
but every body is checked to be a FHIR resource of the expected type, so an HTML login
page or a proxy's JSON error never reaches the tools disguised as data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson

from fhir_client._depth import JsonTooDeep, check_depth
from fhir_client.errors import InvalidResponse, body_snippet
from fhir_client.limits import MAX_JSON_DEPTH

__all__ = [
    "JsonTooDeep",
    "Resource",
    "SearchParams",
    "build_query",
    "check_depth",
    "dump_resource",
    "loads_json",
    "parse_resource",
]

SearchParams = Mapping[str, str | Sequence[str]]
Resource = dict[str, Any]


def build_query(
    params: SearchParams | None,
    *,
    page_size: int | None,
    add_count: bool = True,
    max_results: int | None = None,
) -> list[tuple[str, str]]:
    """Turn search params into query pairs; a sequence value repeats the parameter (AND).

    ``_count`` is added when the caller did not set one: ``page_size``, or ``max_results``
    if smaller (no point fetching 100 rows to keep 5).
    """
    pairs: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        values = [value] if isinstance(value, str | int) else value
        for item in values:
            if not isinstance(item, str | int) or isinstance(item, bool):
                raise TypeError(
                    f"search parameter {name!r} has a {type(item).__name__} value; "
                    "use a string or a list of strings"
                )
            pairs.append((name, str(item)))
    if add_count and not any(name == "_count" for name, _ in pairs):
        page = page_size
        if max_results is not None:
            page = min(page, max_results) if page is not None else max_results
        if page is not None:
            pairs.append(("_count", str(page)))
    return pairs


def parse_resource(
    response: httpx.Response,
    method: str,
    path: str,
    expect: str | None,
    *,
    check_nesting: bool = True,
) -> Resource:
    """Decode a 2xx body as a FHIR resource, checking its resourceType.

    ``check_nesting=False`` skips :func:`check_depth`; only for bodies from this
    process's own embedded store (see ``FhirClient(own_store=...)``).
    """
    try:
        data = loads_json(response.content)
        if check_nesting:
            check_depth(data)
    except JsonTooDeep as error:
        raise InvalidResponse(
            f"{method} {path} returned JSON nested too deeply to be FHIR ({error}); "
            "the server or something between it and this client is faulty"
        ) from None
    except ValueError:
        content_type = response.headers.get("Content-Type", "none")
        raise InvalidResponse(
            f"{method} {path} returned HTTP {response.status_code} with a body that is not "
            f"JSON (Content-Type: {content_type}): {body_snippet(response.content)!r}. "
            "Check that the base URL points at the FHIR API, not a web page or a proxy"
        ) from None
    found = data.get("resourceType") if isinstance(data, dict) else None
    if not isinstance(found, str):
        raise InvalidResponse(
            f"{method} {path} returned JSON that is not a FHIR resource (no resourceType); "
            "check that the base URL points at a FHIR R4 server"
        )
    if expect is not None and found != expect:
        raise InvalidResponse(
            f"{method} {path} returned a {found} where a {expect} was expected; "
            "check that the base URL points at a FHIR R4 server"
        )
    result: Resource = data
    return result


# A run of 19+ digits can be an integer beyond 64 bits, which orjson would turn into a
# float (losing digits) where the stdlib keeps an exact int. Runs are found by mapping
# every digit to "0" and searching for 19 zeros: two C-speed passes, where a regex
# scan of a 3 MB bundle took longer than parsing it.
_ALL_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19
_JSON_SPACE = b" \t\r\n"
# orjson writes NaN and infinities as null where the stdlib writes NaN / Infinity.
_NULL_VALUES = (b":null", b",null", b"[null")
# Types orjson would serialise but the stdlib refuses: hand them to the stdlib instead.
_STDLIB_SEMANTICS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _may_hold_big_integer(data: bytes) -> bool:
    """True if ``data`` may contain a JSON integer token of 19 or more digits.

    Digit runs inside strings (Synthea's narratives print 19-digit seeds) are
    told apart from numbers by their neighbours: a number token sits between
    ``:``/``,``/``[`` and ``,``/``]``/``}``. A false positive only costs the
    slower stdlib parse.
    """
    zeros = data.translate(_ALL_DIGITS_TO_ZERO)
    start = zeros.find(_LONG_RUN)
    while start != -1:
        end = start + len(_LONG_RUN)
        while end < len(zeros) and zeros[end] == ord("0"):
            end += 1
        before = start - 1
        if before >= 0 and data[before] == ord("-"):
            before -= 1
        while before >= 0 and data[before] in _JSON_SPACE:
            before -= 1
        after = end
        while after < len(data) and data[after] in _JSON_SPACE:
            after += 1
        if (before < 0 or data[before] in b":,[") and (after == len(data) or data[after] in b",]}"):
            return True
        start = zeros.find(_LONG_RUN, end)
    return False


def loads_json(data: bytes) -> Any:
    """Parse JSON exactly as ``json.loads`` does, with orjson's speed where that is safe.

    orjson parses a Synthea bundle about 3x faster, but it differs from the
    stdlib at the edges: it refuses NaN/Infinity, a UTF-8 BOM and lone
    surrogates, and reads integers beyond 64 bits as floats. Whatever orjson
    refuses is parsed again by the stdlib (so its result, or its error message,
    is exactly the stdlib's), and input that may hold a big integer goes
    straight to the stdlib.
    """
    if not _may_hold_big_integer(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(data)
    except RecursionError:
        # orjson stops at 1024 levels; the stdlib would recurse until Python's limit.
        raise JsonTooDeep(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep") from None


def dump_resource(resource: Resource) -> bytes:
    """Serialise a resource as compact UTF-8 JSON, as ``json.dumps`` would.

    orjson is about 10x faster on a Synthea transaction. Where its output
    would differ from the stdlib's in meaning (NaN/Infinity written as null,
    integers beyond 64 bits, non-string keys, datetimes, dataclasses and
    subclasses of str/int/dict/list that the stdlib encodes its own way or
    refuses), the stdlib encodes the resource instead. Floats may be spelled
    differently (``1.5e-7`` for ``1.5e-07``) but denote the same number, and
    ``uuid.UUID`` / plain ``Enum`` values, which the stdlib refuses, are
    written as strings: neither can come out of parsed JSON.
    """
    try:
        body = orjson.dumps(resource, option=_STDLIB_SEMANTICS)
    except orjson.JSONEncodeError:
        body = None
    if body is None or any(null in body for null in _NULL_VALUES):
        body = json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return body
