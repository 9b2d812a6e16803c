"""The embedded FHIR store: SQLite + search indexes behind a FHIR REST facade.

The agent's tools talk FHIR REST only; giving them an in-process server (reached
through httpx's ASGI transport) instead of a special local API means the same
code path serves a laptop demo and a hospital's FHIR server.

    store = EmbeddedStore("record.db")
    async with embedded_client(store) as fhir:
        labs = await fhir.search("Observation", {"patient": pid, "category": "laboratory"})
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from fhir_client._lazy import lazy_attributes
from fhir_client.embedded.store import EmbeddedStore, SchemaMismatch, StoreBusy

if TYPE_CHECKING:  # the facade and the client: imported when a client is made
    from starlette.applications import Starlette
    from starlette.types import ASGIApp, Receive, Scope, Send

    from fhir_client.client import FhirClient
    from fhir_client.embedded.query import DEFAULT_COUNT, MAX_COUNT, SearchError
    from fhir_client.embedded.registry import REGISTRY, ParamKind, SearchParam
    from fhir_client.embedded.validation import StoreError
    from fhir_client.embedded.writing import WriteResult

_LAZY = {
    "DEFAULT_COUNT": "fhir_client.embedded.query",
    "MAX_COUNT": "fhir_client.embedded.query",
    "SearchError": "fhir_client.embedded.query",
    "REGISTRY": "fhir_client.embedded.registry",
    "ParamKind": "fhir_client.embedded.registry",
    "SearchParam": "fhir_client.embedded.registry",
    "StoreError": "fhir_client.embedded.validation",
    "WriteResult": "fhir_client.embedded.writing",
}
"""Names of the search parser, the parameter registry and the write path, imported
when first asked for (PEP 562): opening the store to list its patients parses no
search, builds no registry and writes nothing."""


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "DEFAULT_COUNT",
    "EMBEDDED_BASE_URL",
    "MAX_COUNT",
    "REGISTRY",
    "EmbeddedStore",
    "ParamKind",
    "SchemaMismatch",
    "SearchError",
    "SearchParam",
    "StoreBusy",
    "StoreError",
    "WriteResult",
    "create_fhir_app",
    "embedded_asgi_app",
    "embedded_client",
    "store_of",
]

#: The base URL in-process clients use; the host never resolves, nothing leaves the process.
EMBEDDED_BASE_URL = "http://embedded.local/fhir"


def create_fhir_app(store: EmbeddedStore, *, writable: bool = True) -> Starlette:
    """The FHIR facade over ``store`` (see :mod:`fhir_client.embedded.app`).

    Imported here on first use: opening the store to list its patients needs neither
    Starlette nor the facade.
    """
    from fhir_client.embedded.app import create_fhir_app as create

    return create(store, writable=writable)


def embedded_asgi_app(store: EmbeddedStore, prefix: str = "/fhir") -> Starlette:
    """The facade mounted under `prefix`, as a bigger app (or a client) sees it."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    app = Starlette(routes=[Mount(prefix, app=create_fhir_app(store))])
    # FHIR's `POST [base]` (transaction/batch) arrives at the mount point itself
    # ("/fhir", no trailing slash), which a Mount does not match and Starlette
    # would answer with a 307 redirect; serve it as "/fhir/" instead.
    app.add_middleware(_BaseWithoutSlash, prefix=prefix)
    return app


class _BaseWithoutSlash:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.prefix:
            path = self.prefix + "/"
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


#: Which store each in-process client talks to, so code holding only the client can
#: use the store's own indexes where FHIR REST would be slow (listing patients with
#: their record counts, writing a streamed load in one SQLite transaction).
_STORES: weakref.WeakKeyDictionary[FhirClient, EmbeddedStore] = weakref.WeakKeyDictionary()


def embedded_client(store: EmbeddedStore, **client_kwargs: Any) -> FhirClient:
    """A FhirClient wired to `store` in-process, with no socket and no server."""
    import httpx

    from fhir_client.client import FhirClient

    transport = httpx.ASGITransport(app=embedded_asgi_app(store))
    client = FhirClient(EMBEDDED_BASE_URL, transport=transport, own_store=True, **client_kwargs)
    _STORES[client] = store
    return client


def store_of(client: object) -> EmbeddedStore | None:
    """The embedded store behind ``client``, or None for a remote server (or anything else)."""
    from fhir_client.client import FhirClient

    return _STORES.get(client) if isinstance(client, FhirClient) else None
