"""Property-based fuzzing of the embedded store's FHIR search parameters.

The facade promises (see :mod:`fhir_client.embedded.query`) that a search it cannot
answer exactly is a 4xx OperationOutcome naming the problem, never a silently wider
result and never a 500: the agent's tools turn a 400 into a message the model can act
on, while a 500 ends the turn.  Hypothesis sends query strings mixing real and invented
parameter names, modifiers, date prefixes, commas, pipes, escapes, huge numbers and
arbitrary unicode, through the same ASGI app the agent's client uses.

For well-formed date searches it also checks the answer: results stay inside the
patient's compartment, and ``lt X`` and ``ge X`` together cover every dated result.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from fhir_client.embedded import EmbeddedStore, embedded_asgi_app, embedded_client
from fhir_client.loading import load_paths

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "synthea_fixtures" / "fhir"
PATIENT_FILE = "Gregoria352_Douglas31_9cd1c047-7dfd-3c0f-1e5b-37e2d2ce7d9c.json"
OTHER_FILE = "Antonina346_Ladawn167_Haag279_ac639121-48f5-13e2-de98-9e782323a070.json"
PATIENT = PATIENT_FILE.removesuffix(".json").split("_")[-1]
BASE = "http://embedded.local"

Json = dict[str, Any]
FUZZ_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,  # the work tree is shared; keep no example database in it
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    """Two fixture patients (so 'only this patient's ids' means something)."""
    path = tmp_path_factory.mktemp("search") / "store.sqlite"
    filled = EmbeddedStore(path)

    async def fill() -> None:
        async with embedded_client(filled, timeout=300.0) as fhir:
            files = [FIXTURES_DIR / PATIENT_FILE, FIXTURES_DIR / OTHER_FILE]
            report = await load_paths(fhir, files, validate=False)
            assert report.failures == []

    asyncio.run(fill())
    yield filled
    filled.close()


def _get(store: EmbeddedStore, resource_type: str, raw_query: str) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=embedded_asgi_app(store))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            return await client.get(f"/fhir/{resource_type}?{raw_query}")

    return asyncio.run(send())


def _check_response(response: httpx.Response) -> Json:
    """A Bundle (200) or an OperationOutcome (4xx) with diagnostics; never a 5xx."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    body: Json = response.json()
    if response.status_code == 200:
        assert body["resourceType"] == "Bundle"
        assert body["type"] == "searchset"
    else:
        assert 400 <= response.status_code < 500
        assert body["resourceType"] == "OperationOutcome", body
        assert body["issue"][0]["diagnostics"].strip()
    return body


PARAM_NAMES = [
    "patient",
    "subject",
    "encounter",
    "code",
    "category",
    "status",
    "component-code",
    "combo-code",
    "value-concept",
    "date",
    "_id",
    "_lastUpdated",
    "_count",
    "_offset",
    "_sort",
    "_summary",
    "_total",
    "_format",
    "_include",
    "subject.name",
    "value-quantity",
    "",
]
MODIFIERS = ["", ":missing", ":not", ":exact", ":contains", ":Patient", ":patient", ":above", ":"]
PREFIXES = ["", "eq", "ne", "lt", "le", "gt", "ge", "sa", "eb", "ap", "xx"]

dates_text = st.one_of(
    st.dates().map(date.isoformat),
    st.datetimes(timezones=st.timezones() | st.just(UTC)).map(datetime.isoformat),
    st.from_regex(
        r"\A-?\d{1,6}(-\d{1,3}(-\d{1,3}(T\d{1,2}(:\d{1,2}(:\d{1,2}(\.\d{1,9})?)?)?)?)?)?"
        r"(Z|[+-]\d{2}:\d{2})?\Z"
    ),
)
values = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="|,\\$:/-.0123456789abcTZ+ ", max_size=30),
    st.builds(lambda p, d: p + d, st.sampled_from(PREFIXES), dates_text),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["true", "false", "count", "none", "json", "-date", "_id,-_lastUpdated"]),
    st.sampled_from([f"Patient/{PATIENT}", PATIENT, f"{BASE}/fhir/Patient/{PATIENT}", "Patient/"]),
    st.sampled_from(["http://loinc.org|4548-4", "|4548-4", "http://loinc.org|", "laboratory"]),
)
names = st.one_of(
    st.sampled_from(PARAM_NAMES[:11]),  # valid names alone, so many searches get a 200
    st.builds(lambda n, m: n + m, st.sampled_from(PARAM_NAMES), st.sampled_from(MODIFIERS)),
    st.text(max_size=15),
)
query_items = st.lists(st.tuples(names, values), max_size=5)


def _encode(items: Sequence[tuple[str, str]]) -> str:
    """Percent-encode everything except what a FHIR client sends raw (, | :)."""
    return "&".join(f"{quote(n, safe=':')}={quote(v, safe=',|:')}" for n, v in items)


@FUZZ_SETTINGS
@given(items=query_items)
@example(items=[("_offset", str(10**30))])
@example(items=[("date", "ge99999-01-01")])
@example(items=[("date", "2020-13-45")])
@example(items=[("code", "a\\"), ("code:not", ",,,")])
@example(items=[])
def test_any_observation_search_is_a_bundle_or_a_4xx_outcome(
    store: EmbeddedStore, items: list[tuple[str, str]]
) -> None:
    response = _get(store, "Observation", _encode(items))
    _check_response(response)
    event(f"HTTP {response.status_code}")  # the mix shows with --hypothesis-show-statistics
    if not items:  # keeps the property honest: a plain search must work at all
        assert response.status_code == 200 and response.json()["total"] > 0


raw_queries = st.text(
    alphabet=st.sampled_from(list("abcdepstu_:=&%,|\\$-+.0123456789 ?#/"))
    | st.characters(codec="utf-8"),
    max_size=60,
)


@FUZZ_SETTINGS
@given(raw=raw_queries, resource_type=st.sampled_from(["Observation", "Condition", "Patient"]))
@example(raw="%FF%FE=%C3", resource_type="Observation")
@example(raw="date=%00", resource_type="Observation")
def test_any_raw_query_string_is_a_bundle_or_a_4xx_outcome(
    store: EmbeddedStore, raw: str, resource_type: str
) -> None:
    """Undecodable percent-escapes and stray separators, straight into the URL."""
    response = _get(store, resource_type, quote(raw, safe="=&%,|:/?+"))
    _check_response(response)
    event(f"HTTP {response.status_code}")


def _ids(body: Json) -> set[str]:
    return {e["resource"]["id"] for e in body.get("entry", [])}


@pytest.fixture(scope="module")
def patient_observations(store: EmbeddedStore) -> dict[str, str | None]:
    """Observation id -> effectiveDateTime (or None) of the patient, from the store rows."""
    body = _check_response(_get(store, "Observation", f"patient={PATIENT}&_count=1000"))
    assert body["total"] == len(body["entry"]) > 10
    return {e["resource"]["id"]: e["resource"].get("effectiveDateTime") for e in body["entry"]}


valid_dates = st.one_of(
    st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)).map(date.isoformat),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)).map(
        lambda d: d.isoformat()[:7]
    ),
    st.integers(min_value=1900, max_value=2030).map(str),
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2030, 12, 31),
        timezones=st.just(timezone(timedelta(hours=-5))) | st.just(UTC),
    ).map(lambda d: d.isoformat(timespec="seconds")),
)


@FUZZ_SETTINGS
@given(prefix=st.sampled_from(["", *PREFIXES[1:9]]), when=valid_dates)
def test_a_valid_date_search_stays_in_the_patient_and_lt_ge_cover_it(
    store: EmbeddedStore,
    patient_observations: dict[str, str | None],
    prefix: str,
    when: str,
) -> None:
    def search(date_value: str) -> set[str]:
        query = f"patient={PATIENT}&date={quote(date_value)}&_count=1000"
        response = _get(store, "Observation", query)
        assert response.status_code == 200, response.text
        return _ids(_check_response(response))

    found = search(prefix + when)
    assert found <= set(patient_observations), "results outside the patient's compartment"
    dated = {rid for rid, effective in patient_observations.items() if effective}
    assert search("lt" + when) | search("ge" + when) >= dated


def test_the_fuzzed_store_holds_the_expected_patient(store: EmbeddedStore) -> None:
    """Guards the properties above: an empty store would make them pass vacuously."""
    record = json.loads((FIXTURES_DIR / PATIENT_FILE).read_bytes())
    expected = sum(1 for e in record["entry"] if e["resource"]["resourceType"] == "Observation")
    assert store.counts_by_type(PATIENT).get("Observation") == expected
