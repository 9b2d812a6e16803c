"""The dashboard backend: a FastAPI app over the agent, the record and a small web page.

``create_app`` only wires things up; the lifespan opens, once per server, the record (the
embedded store by default, filled from the fixtures when empty; a remote server with
``fhir_url``; or any client from ``fhir_client_factory``) and over it the
:class:`~agent.assistant.Assistant` (threads in SQLite or Postgres, the graph, the audit
log, the model): the API is an adapter over that one object.  The model is loaded by the
caller and passed in, so a bad ``--model`` fails before the server binds a port rather
than on the first question.

Routes: ``/`` the page, ``/static`` its files, ``/patients...`` the API (see
:mod:`agent.api.routes`), ``/fhir`` the record (see :mod:`agent.api.fhir_mount`),
``/docs`` and ``/openapi.json`` the OpenAPI docs.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from agent.api.access_audit import AccessAuditMiddleware
from agent.api.fhir_mount import FhirMount, read_only_facade, read_proxy_app
from agent.api.host_guard import HostGuardMiddleware, parse_allowed_hosts
from agent.api.runtime import ApiError, api_error
from agent.api.security import TokenRegistry
from agent.audit import AuditLog, default_audit_path
from agent.checkpoints import CheckpointTarget
from agent.models.base import ChatModel
from agent.record_source import RecordSource, open_record
from agent.refusals import AssistantError
from agent.settings import Settings
from fhir_client.client import FhirClient
from fhir_client.errors import FhirError

__all__ = ["ClientFactory", "create_app"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"

NO_AGENT = (
    "The agent extra is not installed: serving the record at /fhir only. "
    "For answers (/patients/.../ask), pip install 'ehr-agent[agent]'."
)

NO_AGENT_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>ehr-agent</title>"
    "<p>The dashboard needs the agent extra, which is not installed: "
    "<code>pip install 'ehr-agent[agent]'</code>.</p>"
    '<p>The record is served read-only at <a href="/fhir/metadata">/fhir</a>.</p></html>'
)
"""What ``/`` shows on the core install, whose dashboard would only fail on every call."""

ClientFactory = Callable[[], AbstractAsyncContextManager[FhirClient]]
"""Opens a FHIR client for the server's lifetime, e.g. ``lambda: FhirClient(url)``."""


def _mount_target(mount: FhirMount, source: RecordSource) -> None:
    """``/fhir`` serves the embedded store read-only, or proxies reads to the server."""
    if source.store is not None:
        mount.target = read_only_facade(source.store)
    else:
        mount.target = read_proxy_app(source.client, source.description)


def invalid_request_response(error: RequestValidationError) -> Response:
    """FastAPI's 422, minus the echoed input: a lone surrogate (``"\\ud800"``) in it made
    the default response unencodable (HTTP 500), and echoing a 2000-character question
    back serves nobody.  ASCII-escaped, so any text the message quotes still encodes."""
    detail = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in error.errors()
    ]
    body = json.dumps({"detail": detail, "kind": "invalid_request"}, ensure_ascii=True)
    return Response(body, 422, media_type="application/json")


def create_app(
    settings: Settings | None = None,
    *,
    model: ChatModel | None = None,
    checkpoint: CheckpointTarget = None,
    fhir_client_factory: ClientFactory | None = None,
    tokens: TokenRegistry | None = None,
    audit_db: Path | None = None,
    audit: bool = True,
    allowed_hosts: Iterable[str] = (),
) -> FastAPI:
    """The app; nothing is opened until the server starts (its lifespan).

        ``settings`` picks the record (default: environment, then the per-user embedded
        store); ``fhir_client_factory`` overrides it with any client (then ``/fhir`` only
        proxies reads).  ``model=None`` answers rule-based.  ``checkpoint`` is where threads
        live: ``None`` the per-user SQLite file, ``":memory:"``, a path, or a Postgres URL.
        ``tokens`` turns on bearer authentication (security dependencies on every route that
    reads the record, see :mod:`agent.api.security`); without
        them the app is open, so only serve it on loopback.  Questions are audited to
        ``audit_db`` (default: next to the store, see :mod:`agent.audit`) unless ``audit``
        is false, and so is every read (:mod:`agent.api.access_audit`).  Requests must name a
        loopback host, the address they came in on, or one of ``allowed_hosts``
        (:mod:`agent.api.host_guard`).
    """
    resolved = settings or Settings.resolve()
    mount = FhirMount(tokens)
    agent_installed = importlib.util.find_spec("langgraph") is not None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if fhir_client_factory is not None:
                client = await stack.enter_async_context(fhir_client_factory())
                source = RecordSource(client, f"FHIR server {client.base_url}")
            else:
                source = await stack.enter_async_context(
                    open_record(resolved, notify=logger.warning)
                )
            _mount_target(mount, source)
            app.state.source_description = source.description
            if not agent_installed:
                logger.warning(NO_AGENT)
                # The record is still served at /fhir, so its reads are still audited.
                if audit:
                    log = AuditLog(audit_db or default_audit_path(resolved))
                    stack.callback(log.close)
                    app.state.audit_log = log
                yield
                mount.target = None
                return
            from agent.assistant import Assistant

            assistant = await stack.enter_async_context(
                Assistant.open(
                    resolved,
                    model=model,
                    checkpoint=checkpoint,
                    audit=(audit_db or True) if audit else False,
                    source=source,
                    retention=True,  # at start, then every RETENTION_INTERVAL_SECONDS
                )
            )
            app.state.runtime = assistant
            app.state.audit_log = assistant.audit
            yield
            mount.target = None

    app = FastAPI(
        title="ehr-agent",
        summary="Cited answers about one patient's FHIR R4 record.",
        description="Every fact is cited as [ResourceType/id]. Not for clinical decisions.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.tokens = tokens  # read by the routes' security dependencies (agent.api.security)

    @app.exception_handler(ApiError)
    async def refused(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(
            {"detail": error.detail, "kind": error.kind}, error.status, headers=error.headers
        )

    @app.exception_handler(AssistantError)
    async def assistant_refused(request: Request, error: AssistantError) -> JSONResponse:
        return await refused(request, api_error(error))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        return invalid_request_response(error)

    @app.exception_handler(FhirError)
    async def fhir_error(request: Request, error: FhirError) -> JSONResponse:
        # Any route: a failing, hostile or oversized record source is a 502 that says
        # why (FhirError messages carry no record content), never a bare 500.
        source = getattr(request.app.state, "source_description", "FHIR record")
        detail = f"Error talking to the {source}: {error}"
        return JSONResponse({"detail": detail, "kind": "fhir_error"}, 502)

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        if not agent_installed:
            return HTMLResponse(NO_AGENT_PAGE, headers={"Cache-Control": "no-cache"})
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    if agent_installed:
        from agent.api.routes import router

        app.include_router(router)
    app.router.routes.append(mount.base_route("/fhir"))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/fhir", mount, name="fhir")
    # Added innermost first: the audit sees what the Host guard and the routes' token checks
    # refuse (a token check notes its caller in the request scope before refusing).
    app.add_middleware(HostGuardMiddleware, allowed_hosts=parse_allowed_hosts(allowed_hosts))
    app.add_middleware(AccessAuditMiddleware)
    return app
