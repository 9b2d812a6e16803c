"""The loader's second pass: rewrite each entry and send the file as one transaction.

Where the transaction goes decides how it is sent, never what it contains:

- the embedded store: straight into one SQLite write transaction, chunk by chunk
  (:meth:`EmbeddedStore.writer`; chunks bounded in resources and in bytes, see
  :func:`store_chunks`), so memory holds one chunk, not the file;
- a remote server through :class:`FhirClient`: the transaction Bundle is written
  to a temporary file entry by entry and streamed as the request body;
- any other target with a ``transaction(bundle)`` method: one Bundle in memory.

In every case the file is all or nothing: a problem found half-way (a dangling
``urn:uuid:``, a refusal from the store) rolls the whole file back.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from fhir_client._codec import dump_resource
from fhir_client.client import FhirClient
from fhir_client.embedded.store import EmbeddedStore, StoreBusy, StoreError
from fhir_client.errors import FhirError, FhirHttpError
from fhir_client.limits import LOAD_CHUNK_BYTES, LOAD_CHUNK_RESOURCES, LOAD_PAGE_CACHE_KIB
from fhir_client.loading.errors import BundleLoadError, DanglingReferenceError
from fhir_client.loading.references import (
    ReferenceTargets,
    find_references,
    rewrite_found_references,
)
from fhir_client.loading.resolution import SearchTarget
from fhir_client.loading.scan import FileScan, entry_resource
from fhir_client.loading.sources import sized_file_entries

JsonObject = dict[str, Any]
Prepared = tuple[int, JsonObject]  # (entry position in the file, server-ready resource)
SizedPrepared = tuple[int, JsonObject, int]  # ... and the entry's bytes in the file


class LoadTarget(SearchTarget, Protocol):
    """The part of :class:`fhir_client.client.FhirClient` the loader needs."""

    async def transaction(self, bundle: JsonObject) -> JsonObject: ...


class PreparedEntries:
    """Pass two's stream of server-ready resources; counts what it rewrote."""

    def __init__(
        self, path: Path, scan: FileScan, targets: ReferenceTargets, *, exact_depth: bool = True
    ) -> None:
        """``exact_depth=False`` when the target checks ``MAX_JSON_DEPTH`` itself on
        every write (the embedded store; see ``sized_file_entries``)."""
        self._path = path
        self._scan = scan
        self._targets = targets
        self._exact_depth = exact_depth
        self.unresolved = 0

    def __iter__(self) -> Iterator[Prepared]:
        for index, resource, _ in self.sized():
            yield index, resource

    def sized(self) -> Iterator[SizedPrepared]:
        """The stream with each entry's size in the file (see ``SizedEntry``)."""
        path = self._path
        facts = self._scan.facts
        count = 0
        for index, entry, size in sized_file_entries(path, exact_depth=self._exact_depth):
            resource = entry_resource(path, index, entry)
            label = f"{resource['resourceType']}/{resource['id']}"
            if facts.target_at(index) != label:
                raise _changed(path, index)
            try:
                rewritten = rewrite_found_references(
                    resource, find_references(resource), self._targets
                )
            except DanglingReferenceError as error:
                raise BundleLoadError(path, index, str(error)) from None
            self.unresolved += rewritten.unresolved_references
            count += 1
            yield index, rewritten.resource, size
        if count != facts.entries:
            raise _changed(path, count)


def _changed(path: Path, index: int) -> BundleLoadError:
    return BundleLoadError(
        path,
        index,
        "the file changed while it was being loaded; nothing from it was stored, load it again",
    )


def store_chunks(entries: PreparedEntries) -> Iterator[list[Prepared]]:
    """Pass two in chunks of at most ``LOAD_CHUNK_RESOURCES`` resources and about
    ``LOAD_CHUNK_BYTES`` of JSON: an entry that would take a chunk past the bytes goes
    into the next one, so a large entry is written alone, not beside 499 others."""
    chunk: list[Prepared] = []
    chunk_bytes = 0
    for index, resource, size in entries.sized():
        if chunk and (len(chunk) >= LOAD_CHUNK_RESOURCES or chunk_bytes + size > LOAD_CHUNK_BYTES):
            yield chunk
            chunk, chunk_bytes = [], 0
        chunk.append((index, resource))
        chunk_bytes += size
    if chunk:
        yield chunk


def write_to_store(store: EmbeddedStore, path: Path, entries: PreparedEntries) -> None:
    """Pass two into the embedded store, one SQLite transaction for the whole file."""
    positions: list[int] = []
    try:
        with store.writer() as writer, writer.page_cache(LOAD_PAGE_CACHE_KIB):
            for chunk in store_chunks(entries):
                positions = [index for index, _ in chunk]
                resources = [resource for _, resource in chunk]
                # Dropped once written: held while the next chunk is read, two chunks
                # would be in memory at once.
                del chunk
                writer.put(resources)
                del resources
    except StoreError as error:
        where = positions[error.index] if error.index is not None else None
        raise BundleLoadError(
            path,
            where,
            f"the store refused the bundle, so nothing from this file was stored: {error}",
        ) from None
    except StoreBusy as error:
        raise BundleLoadError(path, None, str(error)) from None


async def send_streamed(client: FhirClient, path: Path, entries: PreparedEntries) -> None:
    """Pass two to a remote server: the transaction is spooled to disk, then streamed."""
    with tempfile.TemporaryFile() as body:
        body.write(b'{"resourceType":"Bundle","type":"transaction","entry":[')
        for number, (_, resource) in enumerate(entries):
            if number:
                body.write(b",")
            body.write(dump_resource(_put_entry(resource)))
        body.write(b"]}")
        await _send(client.transaction_file(body), path)


async def send_in_memory(target: LoadTarget, path: Path, entries: PreparedEntries) -> None:
    """Pass two for a target that only takes a whole Bundle (tests, adapters)."""
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [_put_entry(resource) for _, resource in entries],
    }
    if bundle["entry"]:
        await _send(target.transaction(bundle), path)


def _put_entry(resource: JsonObject) -> JsonObject:
    url = f"{resource['resourceType']}/{resource['id']}"
    return {"resource": resource, "request": {"method": "PUT", "url": url}}


async def _send(sending: Any, path: Path) -> None:
    try:
        await sending
    except FhirError as error:
        raise server_refusal(path, error) from None
    except UnicodeEncodeError as error:
        # Valid JSON may escape a lone surrogate ("\ud800"), which no UTF-8 body
        # can carry: report the file, like any other unloadable content.
        raise BundleLoadError(
            path,
            None,
            f"contains text that is not valid Unicode ({error.reason} at character "
            f"{error.start}); fix or remove that text and load the file again",
        ) from None


def server_refusal(path: Path, error: FhirError) -> BundleLoadError:
    """The file's error when the server refused its transaction."""
    text = error.diagnostics if isinstance(error, FhirHttpError) else str(error)
    position = re.search(r"entry\[(\d+)\]", text, re.IGNORECASE)
    return BundleLoadError(
        path,
        int(position.group(1)) if position else None,
        f"the server refused the bundle, so nothing from this file was stored: {error}",
    )
