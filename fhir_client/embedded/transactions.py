"""`transaction` and `batch` Bundles of `PUT Type/id` entries.

A transaction is all-or-nothing: every entry is checked first and the whole
set goes to the store in one SQL transaction, so a bad entry leaves the store
exactly as it was. A batch stores its good entries (also in one SQL
transaction, for speed) and reports each bad one in its own response entry.
"""

from __future__ import annotations

from typing import Any

from fhir_client.embedded.responses import outcome
from fhir_client.embedded.store import EmbeddedStore, StoreError, WriteResult, validate_resource


class BundleError(ValueError):
    """The Bundle as a whole cannot be processed; the message names the entry."""


def check_entry(entry: object, index: int) -> dict[str, Any]:
    """Return the entry's resource if it is a well-formed `PUT Type/id`, else raise."""
    if not isinstance(entry, dict):
        raise BundleError(f"entry #{index} is not a JSON object")
    request = entry.get("request")
    resource = entry.get("resource")
    if not isinstance(request, dict) or request.get("method") != "PUT":
        method = request.get("method") if isinstance(request, dict) else None
        raise BundleError(
            f"entry #{index}: request.method {method!r} is not supported; the embedded store "
            "accepts only PUT Type/id entries (rewrite POSTs to PUTs with the resource id)"
        )
    if not isinstance(resource, dict):
        raise BundleError(f"entry #{index} has no resource")
    try:
        rtype, rid = validate_resource(resource, index)
    except StoreError as exc:
        raise BundleError(f"entry #{index}: {exc}") from None
    url = str(request.get("url", "")).strip("/")
    if url != f"{rtype}/{rid}":
        raise BundleError(
            f"entry #{index}: request.url {request.get('url')!r} does not match the resource "
            f"{rtype}/{rid}; use url '{rtype}/{rid}'"
        )
    return resource


def _response_entry(result: WriteResult) -> dict[str, Any]:
    return {
        "response": {
            "status": "201 Created" if result.created else "200 OK",
            "location": f"{result.resource_type}/{result.id}/_history/{result.version}",
            "etag": f'W/"{result.version}"',
            "lastModified": result.last_updated,
        }
    }


def process_bundle(store: EmbeddedStore, bundle: object) -> dict[str, Any]:
    """Apply a transaction or batch Bundle; return the response Bundle.

    Raises BundleError for a malformed Bundle and, for a transaction, for any
    bad entry (nothing is stored then).
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BundleError("POST / expects a Bundle resource")
    kind = bundle.get("type")
    if kind not in ("transaction", "batch"):
        raise BundleError(f"Bundle.type must be 'transaction' or 'batch', got {kind!r}")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise BundleError("Bundle.entry must be a list")
    if kind == "transaction":
        resources = [check_entry(entry, i) for i, entry in enumerate(entries)]
        try:
            results = store.put_resources(resources)
        except StoreError as exc:
            raise BundleError(f"transaction rejected, nothing stored: {exc}") from None
        return {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [_response_entry(r) for r in results],
        }
    return {"resourceType": "Bundle", "type": "batch-response", "entry": _batch(store, entries)}


def _batch(store: EmbeddedStore, entries: list[Any]) -> list[dict[str, Any]]:
    responses: list[dict[str, Any] | None] = [None] * len(entries)
    good: list[tuple[int, dict[str, Any]]] = []
    for i, entry in enumerate(entries):
        try:
            good.append((i, check_entry(entry, i)))
        except BundleError as exc:
            responses[i] = _failure(str(exc))
    try:
        results = store.put_resources([resource for _, resource in good])
        for (i, _), result in zip(good, results, strict=True):
            responses[i] = _response_entry(result)
    except StoreError:
        # e.g. the same resource twice: fall back to one write per entry
        for i, resource in good:
            try:
                responses[i] = _response_entry(store.put_resources([resource])[0])
            except StoreError as exc:
                responses[i] = _failure(f"entry #{i}: {exc}")
    return [r for r in responses if r is not None]


def _failure(message: str) -> dict[str, Any]:
    return {"response": {"status": "400 Bad Request", "outcome": outcome(message)}}
