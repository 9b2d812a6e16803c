"""Listing patients a page at a time, counts from the store's index, on every door.

Expected facts come from the fixture bundles' JSON; the listing reads the store
the loader filled from the same bundles.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from agent.cli import app
from agent.cli.rendering import patient_rows, patients_table
from agent.patients import PatientSummary, summarize_patient
from fhir_client import FhirClient
from fhir_client.directory import REMOTE_COUNTED_TYPES, PatientEntry, patient_page
from fhir_client.embedded import (
    EMBEDDED_BASE_URL,
    EmbeddedStore,
    embedded_asgi_app,
    embedded_client,
    store_of,
)
from fhir_client.embedded.registry import PATIENT_COMPARTMENT
from fhir_client.limits import MAX_PATIENT_PAGE, REMOTE_COUNT_BATCH_ENTRIES
from fhir_client.observe import RequestObservation
from tests.support.api_server import fixture_patients, running_server, store_copy


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return store_copy(tmp_path_factory.mktemp("listing"), tmp_path_factory.getbasetemp())


def _sort_key(resources: list[dict[str, object]]) -> tuple[str, str]:
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    name = patient["name"][0]  # type: ignore[index]
    return (name["family"].lower(), name["given"][0].lower())


def _expected_order() -> list[str]:
    patients = fixture_patients()
    return sorted(patients, key=lambda pid: (_sort_key(patients[pid]), pid))


def _compartment_counts(resources: list[dict[str, object]]) -> dict[str, int]:
    return dict(
        Counter(
            str(r["resourceType"]) for r in resources if r["resourceType"] in PATIENT_COMPARTMENT
        )
    )


async def test_pages_cover_every_patient_once_in_order_with_index_counts(db: Path) -> None:
    store = EmbeddedStore(db)
    try:
        async with embedded_client(store) as client:
            pages = [await patient_page(client, count=5, offset=o) for o in (0, 5, 10, 15)]
    finally:
        store.close()

    listed = [str(e.patient["id"]) for page in pages for e in page.entries]
    assert listed == _expected_order()
    assert {page.total for page in pages} == {len(fixture_patients())}
    assert [page.more for page in pages][:2] == [len(listed) - 5, len(listed) - 10]
    truth = fixture_patients()
    for page in pages:
        for entry in page.entries:
            assert entry.resource_counts == _compartment_counts(truth[str(entry.patient["id"])])


async def test_name_search_is_a_case_and_accent_blind_prefix_of_any_name_part(db: Path) -> None:
    truth = fixture_patients()
    some = _expected_order()[3]
    patient = next(r for r in truth[some] if r["resourceType"] == "Patient")
    family = patient["name"][0]["family"]
    prefix = family[:3].upper()
    wanted = {
        pid
        for pid, resources in truth.items()
        for p in resources
        if p["resourceType"] == "Patient"
        for name in p["name"]
        for part in [name.get("family", ""), *name.get("given", [])]
        if _fold(part).startswith(_fold(prefix))
    }
    store = EmbeddedStore(db)
    try:
        async with embedded_client(store) as client:
            page = await patient_page(client, name=prefix, count=MAX_PATIENT_PAGE)
            nobody = await patient_page(client, name="Zzzzqx", count=10)
            scoped = await patient_page(client, count=10, only={some, "not-a-patient"})
    finally:
        store.close()
    assert {str(e.patient["id"]) for e in page.entries} == wanted and some in wanted
    assert page.total == len(wanted)
    assert (nobody.entries, nobody.total) == ([], 0)
    assert [str(e.patient["id"]) for e in scoped.entries] == [some] and scoped.total == 1


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _summaries() -> list[PatientSummary]:
    return [
        summarize_patient(PatientEntry(next(r for r in res if r["resourceType"] == "Patient")))
        for res in fixture_patients().values()
    ]


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_ids_are_never_cut_in_a_narrow_terminal(width: int) -> None:
    summaries = _summaries()
    console = Console(width=width, record=True, force_terminal=True, color_system=None)
    console.print(patients_table(summaries, width=width))
    text = console.export_text()
    for summary in summaries:
        assert summary.id in text, (width, summary.id)
    if width >= 120:
        assert "Most common" in text


def test_rows_in_a_pipe_are_plain_tab_separated_and_one_per_patient() -> None:
    summaries = _summaries()
    hostile = PatientSummary(
        id="evil",
        name="Bob\t\x1b[31mRed\nNewline",
        gender=None,
        birth_date=None,
        deceased=False,
        deceased_date=None,
        resource_counts={},
    )
    rows = patient_rows([*summaries, hostile])
    assert len(rows) == len(summaries) + 1
    assert all(len(row.split("\t")) == 7 for row in rows)
    assert [row.split("\t")[0] for row in rows] == [s.id for s in summaries] + ["evil"]
    assert rows[-1].split("\t")[1] == "Bob [31mRed Newline"


def test_the_cli_pages_with_plain_rows_and_says_how_many_more(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("EHR_AGENT_DB", "EHR_AGENT_FHIR_URL", "EHR_AGENT_FHIR_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    first = runner.invoke(app, ["patients", "--count", "4", "--db", str(db)])
    later = runner.invoke(app, ["patients", "--count", "4", "--offset", "4", "--db", str(db)])
    too_many = runner.invoke(app, ["patients", "--count", str(MAX_PATIENT_PAGE + 1)])

    assert first.exit_code == 0 and later.exit_code == 0, first.output
    order = _expected_order()
    assert [line.split("\t")[0] for line in first.stdout.splitlines()] == order[:4]
    assert [line.split("\t")[0] for line in later.stdout.splitlines()] == order[4:8]
    total = len(order)
    assert f"Patients 1-4 of {total}. {total - 4} more: add --offset 4" in first.stderr
    assert too_many.exit_code == 2


@pytest.fixture(scope="module")
def api(db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    copy = store_copy(tmp_path_factory.mktemp("listing-api"), tmp_path_factory.getbasetemp())
    with running_server(copy) as base_url, httpx.Client(base_url=base_url, timeout=60) as c:
        yield c


def test_the_api_pages_searches_and_counts(api: httpx.Client) -> None:
    order = _expected_order()
    page = api.get("/patients", params={"count": 3, "offset": 3, "counts": "true"})
    searched = api.get("/patients", params={"name": order[0] and "zzzqx"})
    refused = api.get("/patients", params={"count": MAX_PATIENT_PAGE + 1})

    assert page.status_code == 200
    assert [p["id"] for p in page.json()] == order[3:6]
    assert page.headers["X-Total-Count"] == str(len(order))
    truth = fixture_patients()
    assert [p["resource_counts"] for p in page.json()] == [
        _compartment_counts(truth[pid]) for pid in order[3:6]
    ]
    assert searched.json() == [] and searched.headers["X-Total-Count"] == "0"
    assert refused.status_code == 422


async def test_a_server_without_batch_searches_is_counted_one_search_at_a_time(
    db: Path,
) -> None:
    """The embedded facade's batch takes writes only: a remote client over it gets the
    counts one ``_summary=count`` at a time, tries the batch once, and the counts are
    the store's own."""
    seen: list[RequestObservation] = []
    store = EmbeddedStore(db)
    try:
        transport = httpx.ASGITransport(app=embedded_asgi_app(store))
        async with FhirClient(EMBEDDED_BASE_URL, transport=transport) as client:
            assert store_of(client) is None  # the remote path, not the store's index
            client.add_observer(seen.append)
            pages = [await patient_page(client, count=2, offset=o) for o in (0, 2)]
    finally:
        store.close()
    truth = fixture_patients()
    listed = [str(e.patient["id"]) for p in pages for e in p.entries]
    assert len(set(listed)) == 4 and set(listed) <= set(truth)  # the facade's own order
    for page in pages:
        for entry in page.entries:
            assert entry.resource_counts == _compartment_counts(truth[str(entry.patient["id"])])
    assert [o.method for o in seen].count("POST") == 1


@pytest.mark.slow
async def test_hapi_answers_a_page_of_counts_in_a_few_batch_requests(
    hapi_with_fixtures: str,
) -> None:
    """Against HAPI: the page's counts arrive in ceil(searches / batch size) requests,
    and each is what the server answers to the same ``_summary=count`` asked alone."""
    seen: list[RequestObservation] = []
    async with FhirClient(hapi_with_fixtures, timeout=600) as client:
        client.add_observer(seen.append)
        page = await patient_page(client, count=MAX_PATIENT_PAGE)
        client.remove_observer(seen.append)
        on_server = await client.count("Patient", {})
        some = page.entries[:2]
        alone = {
            (str(e.patient["id"]), rtype): await client.count(rtype, {"patient": e.patient["id"]})
            for e in some
            for rtype in REMOTE_COUNTED_TYPES
        }
    patients = len(page.entries)
    # The session's HAPI is shared: other tests may have added patients beside the fixtures.
    assert len(fixture_patients()) <= patients == min(on_server, MAX_PATIENT_PAGE)
    searches = patients * len(REMOTE_COUNTED_TYPES)
    assert len(seen) == 1 + -(-searches // REMOTE_COUNT_BATCH_ENTRIES)
    assert all(o.status == 200 for o in seen)
    for entry in some:
        expected = {r: n for (p, r), n in alone.items() if p == str(entry.patient["id"]) and n}
        assert entry.resource_counts == {**expected, "Patient": 1}
