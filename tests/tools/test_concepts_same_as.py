"""``same_as`` in a phrase vocabulary: one list written once, its synonyms referring to it.

The shipped files are checked against their own raw TOML (a reference gives exactly its
target's targets, and is used); the load errors on hand-written ``[terms]`` tables.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tools.concepts.vocabularies import resolve_same_as, vocabularies
from tools.vocabulary import normalize_name

DATA = Path(__file__).resolve().parents[2] / "tools" / "concepts" / "data"
PHRASE_FILES = ("abbreviations.toml", "lay_terms.toml", "word_forms.toml")


def _terms(name: str) -> dict[str, object]:
    terms: dict[str, object] = tomllib.loads((DATA / name).read_text("utf-8"))["terms"]
    return terms


def test_a_same_as_entry_expands_to_its_targets_list() -> None:
    phrases = vocabularies().phrases
    references = 0
    for name in PHRASE_FILES:
        terms = _terms(name)
        for key, value in terms.items():
            if not isinstance(value, dict):
                continue
            references += 1
            target = terms[value["same_as"]]
            while isinstance(target, dict):  # a reference may lead to another
                target = terms[target["same_as"]]
            # Loaded: the referring phrase expands to the target's list (what other files
            # add under the same phrase merges in, as for any entry).
            assert set(target) <= set(phrases[normalize_name(key)]), (name, key)
    assert references >= 12  # the umbrella synonyms of heart, lung, kidney, mental health
    heart = _terms("lay_terms.toml")["heart"]
    assert isinstance(heart, list)
    for synonym in ("heart trouble", "heart problem", "heart disease", "cardiac"):
        assert phrases[synonym] == tuple(heart), synonym


def test_a_reference_may_lead_to_another() -> None:
    terms = {"a": {"same_as": "b"}, "b": {"same_as": "c"}, "c": ["x", "y"]}
    assert resolve_same_as("t.toml", terms) == {"a": ("x", "y"), "b": ("x", "y"), "c": ("x", "y")}


def test_an_unknown_reference_is_a_load_error_naming_it() -> None:
    terms = {"heart trouble": {"same_as": "hart"}, "heart": ["condition:cardiac"]}
    with pytest.raises(ValueError, match=r"t\.toml: same_as names no term") as raised:
        resolve_same_as("t.toml", terms)
    assert "'heart trouble' -> 'hart'" in str(raised.value)


@pytest.mark.parametrize(
    ("terms", "chain"),
    [
        ({"a": {"same_as": "a"}}, "'a' -> 'a'"),
        ({"a": {"same_as": "b"}, "b": {"same_as": "c"}, "c": {"same_as": "a"}},
         "'a' -> 'b' -> 'c' -> 'a'"),
    ],
    ids=["itself", "through-two-others"],
)  # fmt: skip
def test_a_circular_reference_is_a_load_error_naming_the_cycle(
    terms: dict[str, object], chain: str
) -> None:
    with pytest.raises(ValueError, match="circular same_as") as raised:
        resolve_same_as("t.toml", terms)
    assert chain in str(raised.value)


@pytest.mark.parametrize(
    "value",
    [{"same_as": 1}, {"same_as": "b", "also": ["x"]}, {}, "x"],
    ids=["not-a-string", "extra-key", "empty-table", "bare-string"],
)
def test_a_malformed_entry_is_a_load_error(value: object) -> None:
    with pytest.raises(ValueError, match=r"^t\.toml: a must be a list of strings"):
        resolve_same_as("t.toml", {"a": value, "b": ["x"]})
