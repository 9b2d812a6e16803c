"""Read a bundle or an NDJSON file entry by entry, never whole.

A Synthea lifetime bundle of an elderly patient reaches 180 MB; parsed whole it
took over 2 GB. Streaming (ijson's C parser for bundles, one line at a time for
Bulk Data NDJSON) keeps memory near the size of the largest entry, and the bounds
of :mod:`fhir_client.limits` are checked on the way:

- ``MAX_BUNDLE_FILE_BYTES`` before a byte is parsed,
- ``MAX_ENTRY_BYTES`` while an entry is read (the parse stops as soon as one entry
  has consumed more, so a 1 GB string inside one entry is never built),
- ``MAX_JSON_DEPTH`` on every entry.

Each problem is a :class:`BundleLoadError` naming the file and the entry, so one
bad file is reported and the rest of a directory still loads.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import ijson

from fhir_client._codec import JsonTooDeep, check_depth, loads_json
from fhir_client.limits import MAX_BUNDLE_FILE_BYTES, MAX_ENTRY_BYTES, MAX_JSON_DEPTH, MIB
from fhir_client.loading.errors import BundleLoadError
from fhir_client.loading.screens import (
    CountingReader,
    EntryTooLarge,
    LoneSurrogate,
    TooDeep,
)

JsonObject = dict[str, Any]
Entry = tuple[int, JsonObject]
"""(0-based position in the file, the entry: ``{"resource": ..., "fullUrl"?: ...}``)."""
SizedEntry = tuple[int, JsonObject, int]
"""An :data:`Entry` and the bytes read from the file since the previous one: about the
entry's size (reads go by ``screens.READ_BYTES``, so a small entry may show 0 and the next the
whole read); their sum is the file's, and a large entry shows its own size."""

NDJSON_SUFFIXES = (".ndjson",)


def is_ndjson(path: Path) -> bool:
    """Bulk Data files: one resource per line, ``.ndjson`` as ``$export`` writes them."""
    return path.suffix.lower() in NDJSON_SUFFIXES


def check_file_size(path: Path) -> int:
    """The file's size, or a BundleLoadError when it passes ``MAX_BUNDLE_FILE_BYTES``."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise BundleLoadError(path, None, f"cannot read the file ({error.strerror})") from None
    if size > MAX_BUNDLE_FILE_BYTES:
        raise BundleLoadError(
            path,
            None,
            f"the file is {size // MIB} MiB, more than the {MAX_BUNDLE_FILE_BYTES // MIB} MiB "
            "a bundle or NDJSON file may be (MAX_BUNDLE_FILE_BYTES); split it, or raise the "
            "bound in fhir_client/limits.py",
        )
    return size


class NotABundle(BundleLoadError):
    """Valid JSON that is not a FHIR Bundle (Synthea metadata, a module, one resource)."""


def _entry_too_large(path: Path, index: int) -> BundleLoadError:
    return BundleLoadError(
        path,
        index,
        f"the entry is larger than {MAX_ENTRY_BYTES // MIB} MiB (MAX_ENTRY_BYTES), so the "
        "file was not loaded; remove or shrink that entry",
    )


def too_deep(path: Path, index: int | None) -> BundleLoadError:
    return BundleLoadError(
        path,
        index,
        f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep (MAX_JSON_DEPTH); no "
        "FHIR resource is, so the file is damaged or hostile",
    )


def _lone_surrogate(path: Path) -> BundleLoadError:
    return BundleLoadError(
        path,
        None,
        "contains text that is not valid Unicode (an escaped lone surrogate such as "
        "\\ud800); fix or remove that text and load the file again",
    )


def _not_json(path: Path, index: int | None, error: Exception) -> BundleLoadError:
    """The message never quotes the parser's text: ijson's quotes the bytes around the
    fault, which are record content."""
    if isinstance(error, ijson.IncompleteJSONError | ijson.JSONError | UnicodeDecodeError):
        near = f" near entry {index}" if index is not None else ""
        reason = f"the file ends early or is malformed{near}"
        index = None
    else:
        reason = str(error)
    return BundleLoadError(
        path, index, f"not valid JSON ({reason}); the file may be truncated, regenerate it"
    )


def check_bundle_header(path: Path) -> None:
    """Check that the file is a JSON object with ``"resourceType": "Bundle"`` and a list
    (or no) ``entry``, reading only as far as needed.

    Synthea and every server write ``resourceType`` first, so this usually reads a
    few bytes; otherwise it reads on until it finds it.
    """
    check_file_size(path)
    resource_type: object = None
    entry_event: str | None = None
    try:
        with path.open("rb") as raw:
            reader = CountingReader(raw, MAX_BUNDLE_FILE_BYTES)
            events = ijson.parse(reader, use_float=True)
            first = next(events, None)
            if first is None:
                raise _not_json(path, None, ValueError("the file is empty"))
            if first[1] != "start_map":
                for _ in events:  # invalid JSON is unreadable, valid JSON is not ours
                    pass
                raise NotABundle(path, None, 'not a FHIR Bundle (no "resourceType": "Bundle")')
            for prefix, event, value in events:
                if prefix == "resourceType" and event == "string":
                    resource_type = value
                elif prefix == "entry" and event not in ("map_key", "end_map"):
                    entry_event = entry_event or event
                if resource_type is not None and entry_event is not None:
                    break
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as error:
        raise _not_json(path, None, error) from None
    except TooDeep:
        raise too_deep(path, None) from None
    except LoneSurrogate:
        raise _lone_surrogate(path) from None
    except OSError as error:
        raise BundleLoadError(path, None, f"cannot read the file ({error.strerror})") from None
    if resource_type != "Bundle":
        raise NotABundle(path, None, 'not a FHIR Bundle (no "resourceType": "Bundle")')
    if entry_event not in (None, "start_array"):
        raise BundleLoadError(path, None, 'the Bundle\'s "entry" is not a list')


def bundle_entries(path: Path) -> Iterator[Entry]:
    """Each entry of a Bundle file, in order; call :func:`check_bundle_header` first."""
    for index, entry, _ in sized_bundle_entries(path):
        yield index, entry


def sized_bundle_entries(path: Path, *, exact_depth: bool = True) -> Iterator[SizedEntry]:
    """:func:`bundle_entries` with the bytes read for each entry (see :data:`SizedEntry`).

    ``exact_depth=False`` leaves out the exact ``MAX_JSON_DEPTH`` walk of each entry
    (the byte screen still runs): only for a reader whose every entry is checked again
    downstream (see :func:`sized_file_entries`)."""
    index = 0
    try:
        with path.open("rb") as raw:
            reader = CountingReader(raw, MAX_ENTRY_BYTES)
            for entry in ijson.items(reader, "entry.item", use_float=True):
                size, reader.since_entry = reader.since_entry, 0
                if exact_depth:
                    _check_entry_depth(path, index, entry)
                yield index, entry if isinstance(entry, dict) else {"resource": None}, size
                index += 1
    except EntryTooLarge:
        raise _entry_too_large(path, index) from None
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as error:
        raise _not_json(path, index, error) from None
    except (TooDeep, RecursionError):
        raise too_deep(path, index) from None
    except LoneSurrogate:
        raise _lone_surrogate(path) from None
    except OSError as error:
        raise BundleLoadError(path, None, f"cannot read the file ({error.strerror})") from None


def ndjson_entries(path: Path) -> Iterator[Entry]:
    """Each resource of a Bulk Data NDJSON file (one per line; blank lines skipped)."""
    for index, entry, _ in sized_ndjson_entries(path):
        yield index, entry


def sized_ndjson_entries(path: Path, *, exact_depth: bool = True) -> Iterator[SizedEntry]:
    """:func:`ndjson_entries` with each line's length in bytes (``exact_depth``: as for
    :func:`sized_bundle_entries`)."""
    check_file_size(path)
    index = 0
    try:
        with path.open("rb") as raw:
            while True:
                line = raw.readline(MAX_ENTRY_BYTES + 1)
                if not line:
                    return
                if len(line) > MAX_ENTRY_BYTES and not line.endswith(b"\n"):
                    raise _entry_too_large(path, index)
                if not line.strip():
                    continue
                try:
                    resource = loads_json(line)
                except JsonTooDeep:
                    raise too_deep(path, index) from None
                except ValueError as error:
                    raise _not_json(path, index, error) from None
                if exact_depth:
                    _check_entry_depth(path, index, resource)
                yield index, {"resource": resource}, len(line)
                index += 1
    except OSError as error:
        raise BundleLoadError(path, None, f"cannot read the file ({error.strerror})") from None


def file_entries(path: Path) -> Iterator[Entry]:
    """The entries of ``path``, whichever of the two formats it is."""
    if is_ndjson(path):
        return ndjson_entries(path)
    check_bundle_header(path)
    return bundle_entries(path)


def sized_file_entries(path: Path, *, exact_depth: bool = True) -> Iterator[SizedEntry]:
    """:func:`file_entries` with the bytes read for each entry.

    ``exact_depth=False``: for the loader's second pass into the embedded store, which
    checks ``MAX_JSON_DEPTH`` on every write (its one write seam), so a third walk of
    each entry (the first pass made one) was only cost: about 0.43 s of CPU for a
    22,000-entry lifetime bundle loaded in ~45 s (``bench/README.md``).
    """
    if is_ndjson(path):
        return sized_ndjson_entries(path, exact_depth=exact_depth)
    check_bundle_header(path)
    return sized_bundle_entries(path, exact_depth=exact_depth)


def entry_resource_types(path: Path) -> Generator[str, None, None]:
    """The ``resourceType`` of each entry, in order, without building the entries.

    For classifying a file: the caller stops at the first answer it needs (Synthea
    puts the Patient first). Raises BundleLoadError for a file that cannot be read.
    """
    if is_ndjson(path):
        for _, entry in ndjson_entries(path):
            resource = entry["resource"]
            if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
                yield resource["resourceType"]
        return
    check_bundle_header(path)
    try:
        with path.open("rb") as raw:
            reader = CountingReader(raw, MAX_BUNDLE_FILE_BYTES)
            for value in ijson.items(reader, "entry.item.resource.resourceType"):
                if isinstance(value, str):
                    yield value
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as error:
        raise _not_json(path, None, error) from None
    except TooDeep:
        raise too_deep(path, None) from None
    except LoneSurrogate:
        raise _lone_surrogate(path) from None
    except OSError as error:
        raise BundleLoadError(path, None, f"cannot read the file ({error.strerror})") from None


def _check_entry_depth(path: Path, index: int, entry: object) -> None:
    try:
        check_depth(entry, MAX_JSON_DEPTH)
    except JsonTooDeep:
        raise too_deep(path, index) from None


def file_size(path: Path) -> int:
    """Size in bytes, 0 when the file cannot be read (the loader reports why later)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
