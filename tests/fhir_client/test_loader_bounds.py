"""Loader bounds on real files: one oversized, overlong or hostile file is reported by
name and bound, and every other file of the directory still loads."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from fhir_client.client import FhirClient
from fhir_client.directory import patient_page
from fhir_client.embedded import EmbeddedStore, embedded_asgi_app, embedded_client
from fhir_client.limits import MAX_BUNDLE_FILE_BYTES, MIB
from fhir_client.loading import load_paths, sources
from tests.support.shared_data import synthea_external

GOOD = "Bob965_Keeling57_3f6fd0bb-6cd3-eb3f-4401-cd38ace25f2b.json"


def _good_bundle(directory: Path) -> dict[str, int]:
    source = synthea_external("fhir-data-pipes-hiv") / GOOD
    shutil.copy(source, directory / GOOD)
    entries = json.loads(source.read_bytes())["entry"]
    return dict(Counter(e["resource"]["resourceType"] for e in entries))


def _bundle_with(resource_extra: bytes) -> bytes:
    return (
        b'{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:x",'
        b'"resource":{"resourceType":"Patient","id":"x",' + resource_extra + b"}}]}"
    )


async def _load(directory: Path, db: Path) -> tuple[dict[str, str], dict[str, int]]:
    store = EmbeddedStore(db)
    try:
        async with embedded_client(store) as client:
            report = await load_paths(client, [directory], validate=False)
        counts = store.counts_by_type()
    finally:
        store.close()
    return {f.path.name: str(f.error) for f in report.failures}, counts


async def test_each_bound_fails_only_its_own_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "MAX_ENTRY_BYTES", 1 * MIB)
    files = tmp_path / "files"
    files.mkdir()
    expected = _good_bundle(files)
    (files / "Deep.json").write_bytes(_bundle_with(b'"x":' + b"[" * 200_000 + b"]" * 200_000))
    (files / "Shallow.json").write_bytes(_bundle_with(b'"x":' + b"[" * 70 + b"]" * 70))
    text = b'"text":{"status":"generated","div":"' + b"A" * (3 * MIB) + b'"}'
    (files / "LongEntry.json").write_bytes(_bundle_with(text))
    with (files / "Sparse.json").open("wb") as sparse:  # no disk used, stat says > 1 GiB
        sparse.truncate(MAX_BUNDLE_FILE_BYTES + 1)

    started = time.monotonic()
    failures, counts = await _load(files, tmp_path / "store.sqlite")

    assert time.monotonic() - started < 120  # the sparse file is never read
    assert counts == expected
    assert set(failures) == {"Deep.json", "Shallow.json", "LongEntry.json", "Sparse.json"}
    assert "nested more than 64 levels deep (MAX_JSON_DEPTH)" in failures["Deep.json"]
    assert "nested more than 64 levels deep (MAX_JSON_DEPTH)" in failures["Shallow.json"]
    assert "larger than 1 MiB (MAX_ENTRY_BYTES)" in failures["LongEntry.json"]
    assert "entry 0" in failures["LongEntry.json"]
    assert "(MAX_BUNDLE_FILE_BYTES)" in failures["Sparse.json"]
    assert all("AAAA" not in message for message in failures.values())


async def test_an_entry_is_built_only_after_the_nesting_screen(tmp_path: Path) -> None:
    """A million-deep array once made ijson use all memory; now it is refused at once."""
    files = tmp_path / "files"
    files.mkdir()
    (files / "Deeper.json").write_bytes(_bundle_with(b'"x":' + b"[" * 1_000_000))
    started = time.monotonic()
    failures, _ = await _load(files, tmp_path / "store.sqlite")
    assert "MAX_JSON_DEPTH" in failures["Deeper.json"]
    assert time.monotonic() - started < 30


async def test_brackets_and_escapes_inside_strings_are_not_nesting(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    # json.dumps escapes the quote, the backslash and the emoji (as a surrogate pair).
    tricky = '[[[[{{{{ " \\ \N{GRINNING FACE} ' * 50_000  # 2 MB of brackets in one string
    resource: dict[str, object] = {"resourceType": "Patient", "id": "x"}
    resource["name"] = [{"text": tricky}]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": resource}]}
    (files / "Tricky.json").write_text(json.dumps(bundle))
    store = EmbeddedStore(tmp_path / "store.sqlite")
    try:
        async with embedded_client(store) as client:
            report = await load_paths(client, [files], validate=False)
            stored = await client.read("Patient", "x")
    finally:
        store.close()
    assert report.failures == []
    assert stored["name"] == resource["name"]


@pytest.fixture
def remote_store(tmp_path: Path) -> Iterator[tuple[str, EmbeddedStore]]:
    """The embedded facade served over a real socket: a remote server to the loader."""
    store = EmbeddedStore(tmp_path / "remote.sqlite")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(embedded_asgi_app(store), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/fhir", store
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


async def test_a_remote_load_streams_the_transaction_from_disk(
    tmp_path: Path, remote_store: tuple[str, EmbeddedStore]
) -> None:
    url, store = remote_store
    files = tmp_path / "files"
    files.mkdir()
    expected = _good_bundle(files)
    async with FhirClient(url) as client:
        report = await load_paths(client, [files])
    assert report.failures == []
    assert store.counts_by_type() == expected


async def test_listing_a_remote_server_matches_the_store_index(
    tmp_path: Path, remote_store: tuple[str, EmbeddedStore]
) -> None:
    """The remote path (a Patient search, then _summary=count per type) over a socket."""
    url, store = remote_store
    files = tmp_path / "files"
    files.mkdir()
    source = synthea_external("fhir-data-pipes-hiv")
    for bundle in sorted(source.glob("*.json"))[:4]:
        shutil.copy(bundle, files / bundle.name)
    async with FhirClient(url) as client:
        await load_paths(client, [files])
        remote = await patient_page(client, count=2, offset=1)
    async with embedded_client(store) as client:
        local = await patient_page(client, count=50)
    by_id = {str(e.patient["id"]): e.resource_counts for e in local.entries}
    assert remote.total == local.total == len(local.entries) >= 3
    assert len(remote.entries) == 2
    for entry in remote.entries:
        assert entry.resource_counts == by_id[str(entry.patient["id"])]


async def test_an_entry_nested_too_deep_outside_its_resource_is_refused(tmp_path: Path) -> None:
    """Pass one checks the whole entry's depth, not only the resource's (the bound is
    the entry's, as the reader's exact check had it)."""
    files = tmp_path / "files"
    files.mkdir()
    deep_request = b'"request":{"x":' + b"[" * 70 + b"]" * 70 + b"}"
    (files / "DeepRequest.json").write_bytes(
        b'{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:x",'
        b'"resource":{"resourceType":"Patient","id":"x"},' + deep_request + b"}]}"
    )
    failures, counts = await _load(files, tmp_path / "store.sqlite")
    assert "nested more than 64 levels deep (MAX_JSON_DEPTH)" in failures["DeepRequest.json"]
    assert counts == {}
