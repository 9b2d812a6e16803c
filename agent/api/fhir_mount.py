"""What the dashboard serves at ``/fhir``: the record behind every citation link.

With the embedded store this is the store's own FHIR REST facade (reads and searches,
``$everything``, ``metadata``), but read-only: the dashboard may listen beyond localhost,
and loading data is the ``ehr-agent load`` command's job, not a web page's.  With a remote
server (``--fhir-url``) or an injected client there is no facade to mount, so ``/fhir``
answers only ``GET /fhir/{type}/{id}`` by reading through the API's own client (the
server's credentials stay on the server side); anything else is a 404 saying so.

The target is set by the app's lifespan, after the store is opened, hence a small
late-bound ASGI delegate rather than a plain ``Mount``. The facade here is built
read-only (``writable=False``): its CapabilityStatement lists no update, delete or
transaction, and a write gets a 405 that says how to load data. ``base_route`` serves
the bare base (``/fhir``) where Starlette would 307-redirect to ``/fhir/``: FHIR clients
treat the base URL as given, and a redirect would not be followed with their
credentials.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.api.security import TokenRegistry, refuse_fhir_unless_all_patients
from fhir_client.client import FhirClient
from fhir_client.embedded import EmbeddedStore, create_fhir_app
from fhir_client.embedded.responses import error_response, fhir_response
from fhir_client.errors import FhirHttpError, ResourceNotFound

__all__ = ["FhirMount", "read_only_facade", "read_proxy_app"]


class FhirMount:
    """An ASGI app forwarding to ``target`` once the lifespan has set it.

    With ``tokens`` it admits only tokens granting every patient: the mount is outside
    FastAPI's routes, so their security dependencies do not reach it.
    """

    def __init__(self, tokens: TokenRegistry | None = None) -> None:
        self.target: ASGIApp | None = None
        self.tokens = tokens

    def base_route(self, prefix: str) -> Route:
        """A route serving the bare base ``prefix`` as ``prefix/``; add it beside the mount.

        Without it Starlette answers ``GET /fhir`` with a 307 to ``/fhir/``.
        """
        return Route(prefix, _AtBase(self, prefix), include_in_schema=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.tokens is not None and await refuse_fhir_unless_all_patients(
            scope, receive, send, self.tokens
        ):
            return
        if self.target is None:
            response = error_response(503, "The FHIR store is not open yet; retry shortly.")
            await response(scope, receive, send)
            return
        await self.target(scope, receive, send)


class _ReadOnly:
    """Refuse writes (PUT, DELETE, transactions) with an OperationOutcome."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            if method not in {"GET", "HEAD"} and not (
                method == "POST" and path.endswith("/_search")
            ):
                response = error_response(
                    405,
                    "The dashboard's /fhir is read-only; load data with `ehr-agent load`.",
                    "not-supported",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def read_only_facade(store: EmbeddedStore) -> ASGIApp:
    """The store's FHIR facade without its write routes, refusing writes with a 405."""
    return _ReadOnly(create_fhir_app(store, writable=False))


class _AtBase:
    """Serve the bare base ``{prefix}`` as ``{prefix}/`` under the same root path."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        root = scope.get("root_path", "") + self.prefix
        path = root + "/"
        await self.app({**scope, "root_path": root, "path": path}, receive, send)


def read_proxy_app(client: FhirClient, source: str) -> ASGIApp:
    """``GET /{type}/{id}`` read through ``client``; the only route with a remote server."""

    async def read(request: Request) -> Response:
        rtype, rid = request.path_params["type"], request.path_params["id"]
        try:
            resource = await client.read(rtype, rid)
        except ResourceNotFound:
            return error_response(404, f"{rtype}/{rid} is not in the {source}.", "not-found")
        except (FhirHttpError, ValueError) as error:
            return error_response(502, f"Could not read {rtype}/{rid} from the {source}: {error}")
        return fhir_response(resource)

    async def other(request: Request) -> Response:
        return error_response(
            404,
            f"With the {source}, /fhir serves only reads (GET /fhir/Type/id); "
            "query the server itself for anything else.",
            "not-supported",
        )

    return Starlette(
        routes=[
            Route("/{type}/{id}", read, methods=["GET"]),
            Route("/{rest:path}", other, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )
