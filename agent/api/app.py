"""The dashboard backend: a FastAPI app over the agent, the record and a small web page.

``create_app`` only wires things up; the lifespan opens them, once per server: the FHIR
client (the embedded store by default, filled from the fixtures when empty; a remote
server with ``fhir_url``; or any client from ``fhir_client_factory``), the checkpointer
(threads survive restarts in the SQLite file; ``":memory:"`` in tests) and the compiled
graph.  The model is loaded by the caller and passed in, so a bad ``--model`` fails before
the server binds a port rather than on the first question.

Routes: ``/`` the page, ``/static`` its files, ``/patients...`` the API (see
:mod:`agent.api.routes`), ``/fhir`` the record (see :mod:`agent.api.fhir_mount`),
``/docs`` and ``/openapi.json`` the OpenAPI docs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from agent.api.fhir_mount import FhirMount, read_only_facade, read_proxy_app
from agent.api.routes import router
from agent.api.runtime import AgentRuntime, ApiError
from agent.api.security import BearerAuthMiddleware, TokenRegistry
from agent.audit import AuditLog, attach, default_audit_path
from agent.checkpoints import open_checkpointer
from agent.cli.fhir_source import fill_from_fixtures, open_embedded_store
from agent.graph import build_graph
from agent.models.base import ChatModel
from agent.settings import Settings
from fhir_client.auth import BearerTokenAuth
from fhir_client.client import FhirClient
from fhir_client.embedded import embedded_client
from fhir_client.errors import FhirError

__all__ = ["ClientFactory", "create_app"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
READ_TIMEOUT_SECONDS = 60.0

ClientFactory = Callable[[], AbstractAsyncContextManager[FhirClient]]
"""Opens a FHIR client for the server's lifetime, e.g. ``lambda: FhirClient(url)``."""


async def _open_client(
    stack: AsyncExitStack, settings: Settings, mount: FhirMount
) -> tuple[FhirClient, str]:
    """The configured client; with the embedded store, also point ``/fhir`` at it."""
    source = settings.source_description
    if settings.fhir_url:
        auth = BearerTokenAuth(settings.fhir_token) if settings.fhir_token else None
        client = FhirClient(settings.fhir_url, auth=auth, timeout=READ_TIMEOUT_SECONDS)
        client = await stack.enter_async_context(client)
        mount.target = read_proxy_app(client, source)
        return client, source
    store = open_embedded_store(settings.db_path)
    stack.callback(store.close)
    if store.is_empty():
        await fill_from_fixtures(store, settings.fixtures_dir, logger.warning)
    client = await stack.enter_async_context(embedded_client(store, timeout=READ_TIMEOUT_SECONDS))
    mount.target = read_only_facade(store)
    return client, source


def create_app(
    settings: Settings | None = None,
    *,
    model: ChatModel | None = None,
    checkpoint: str | Path | None = None,
    fhir_client_factory: ClientFactory | None = None,
    tokens: TokenRegistry | None = None,
    audit_db: Path | None = None,
    audit: bool = True,
) -> FastAPI:
    """The app; nothing is opened until the server starts (its lifespan).

    ``settings`` picks the record (default: environment, then the per-user embedded
    store); ``fhir_client_factory`` overrides it with any client (then ``/fhir`` only
    proxies reads).  ``model=None`` answers rule-based.  ``checkpoint`` is where threads
    live: ``None`` the per-user SQLite file, ``":memory:"``, a path, or a Postgres URL.
    ``tokens`` turns on bearer authentication (see :mod:`agent.api.security`); without
    them the app is open, so only serve it on loopback.  Questions are audited to
    ``audit_db`` (default: next to the store, see :mod:`agent.audit`) unless ``audit``
    is false.
    """
    resolved = settings or Settings.resolve()
    mount = FhirMount()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if fhir_client_factory is not None:
                client = await stack.enter_async_context(fhir_client_factory())
                source = f"FHIR server {client.base_url}"
                mount.target = read_proxy_app(client, source)
            else:
                client, source = await _open_client(stack, resolved, mount)
            saver = await stack.enter_async_context(open_checkpointer(checkpoint))
            log: AuditLog | None = None
            if audit:
                log = AuditLog(audit_db or default_audit_path(resolved))
                stack.callback(log.close)
                attach(client)
            app.state.runtime = AgentRuntime(
                client=client,
                graph=build_graph(checkpointer=saver),
                model=model,
                source_description=source,
                audit=log,
            )
            yield
            mount.target = None

    app = FastAPI(
        title="ehr-agent",
        summary="Cited answers about one patient's FHIR R4 record.",
        description="Every fact is cited as [ResourceType/id]. Not for clinical decisions.",
        version="0.1.0",
        lifespan=lifespan,
    )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"detail": error.detail, "kind": error.kind}, error.status)

    @app.exception_handler(FhirError)
    async def fhir_error(request: Request, error: FhirError) -> JSONResponse:
        # Any route: a failing, hostile or oversized record source is a 502 that says
        # why (FhirError messages carry no record content), never a bare 500.
        source = request.app.state.runtime.source_description
        detail = f"Error talking to the {source}: {error}"
        return JSONResponse({"detail": detail, "kind": "fhir_error"}, 502)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/fhir", mount, name="fhir")
    if tokens is not None:
        app.add_middleware(BearerAuthMiddleware, tokens=tokens)
    return app
