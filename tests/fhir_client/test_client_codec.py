"""The orjson fast paths in ``fhir_client._codec`` behave exactly like the stdlib json.

The loader, the client and the embedded facade all parse and encode through
these two functions; orjson makes a Synthea load faster only if no resource,
number or error message comes out differently.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fhir_client._codec import dump_resource, loads_json

_json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


def _stdlib_dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@given(_json_values, st.booleans())
def test_parsing_gives_what_the_stdlib_gives(value: Any, pretty: bool) -> None:
    text = json.dumps(value, indent=2 if pretty else None).encode()
    parsed = loads_json(text)
    assert parsed == json.loads(text)
    assert repr(parsed) == repr(json.loads(text))  # same int/float types, same digits


@given(_json_values)
def test_encoding_round_trips_to_what_the_stdlib_encodes(value: Any) -> None:
    assert json.loads(dump_resource({"v": value})) == json.loads(_stdlib_dump({"v": value}))


@pytest.mark.parametrize(
    "text",
    [
        b'{"value": 123456789012345678901234567890}',  # orjson would return a float
        b'{"value": [1, -9223372036854775809]}',
        b'\xef\xbb\xbf{"resourceType": "Patient"}',  # UTF-8 BOM
        b'{"value": NaN}',
        b'{"value": "\\ud800"}',  # lone surrogate
        b'{"text": "Person seed: 5422929161009166291  Population seed"}',
    ],
)
def test_inputs_orjson_reads_differently_are_read_by_the_stdlib(text: bytes) -> None:
    assert repr(loads_json(text)) == repr(json.loads(text))


@pytest.mark.parametrize("text", [b'{"a":', b"", b"\xff", b'{"a":1}x', b"<html>"])
def test_invalid_json_raises_the_stdlib_error(text: bytes) -> None:
    with pytest.raises(ValueError) as ours:
        loads_json(text)
    with pytest.raises(ValueError) as stdlib:
        json.loads(text)
    assert type(ours.value) is type(stdlib.value)
    assert str(ours.value) == str(stdlib.value)


@pytest.mark.parametrize(
    "resource",
    [
        {"value": math.nan},  # orjson would write null
        {"value": math.inf},
        {"value": 10**30},  # orjson refuses integers beyond 64 bits
        {1: "non-string key"},
    ],
)
def test_values_orjson_encodes_differently_are_encoded_by_the_stdlib(
    resource: dict[Any, Any],
) -> None:
    assert dump_resource(resource) == _stdlib_dump(resource)


def test_types_the_stdlib_refuses_are_still_refused() -> None:
    import datetime

    with pytest.raises(TypeError):
        dump_resource({"when": datetime.date(2024, 1, 1)})
