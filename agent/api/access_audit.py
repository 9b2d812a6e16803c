"""The API's access audit: one row per request that is not public, refused ones included.

A pure ASGI middleware, outermost, so it sees what every other layer decided: the Host
guard's 400, the token check's 401/403, FastAPI's 422, a route's 404/409, and ``/fhir``
(whose behaviour lives elsewhere) without touching it.  Each row names the caller (see
:func:`agent.api.security.caller_of`), the route template, the patient when the request
names one (path, ``patient``/``subject`` parameters, a ``_search`` form body, or for a
single resource read its ``subject``/``patient`` reference), the path with parameter
names only, the status and the time.  Nothing of a body or a response is stored.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.api.security import identify_caller, is_public_path
from agent.audit import AccessRecord, AuditLog, query_shape, store_access
from fhir_client.ids import is_fhir_id

__all__ = ["THREAD_KEY", "AccessAuditMiddleware", "note_thread"]

THREAD_KEY = "ehr_agent.thread"
FHIR_PREFIX = "/fhir"
# Bodies are peeked at only to find a patient id: a _search form, or one resource read.
_MAX_PEEK_BYTES = 256 * 1024
_PATIENT_PARAMS = frozenset({"patient", "subject", "patient:Patient", "subject:Patient"})
_PATIENT_OWNERS = ("subject", "patient", "beneficiary")


def note_thread(scope: MutableMapping[str, Any], public_id: str) -> None:
    """Let the audit row of this request name its conversation thread."""
    scope[THREAD_KEY] = public_id


def _patient_ref(value: str) -> str | None:
    ref = value.removeprefix("Patient/")
    return ref if is_fhir_id(ref) else None


def _fhir_patient(path: str, params: list[tuple[str, str]]) -> str | None:
    parts = [p for p in path[len(FHIR_PREFIX) :].split("/") if p]
    if len(parts) >= 2 and parts[0] == "Patient" and is_fhir_id(parts[1]):
        return parts[1]
    for name, value in params:
        if name in _PATIENT_PARAMS and (found := _patient_ref(value)):
            return found
    return None


def _owner_in(body: bytes) -> str | None:
    """The Patient a single resource belongs to (its subject/patient reference)."""
    try:
        resource = json.loads(body)
    except ValueError:
        return None
    if not isinstance(resource, dict) or resource.get("resourceType") == "Bundle":
        return None
    for key in _PATIENT_OWNERS:
        owner = resource.get(key)
        if isinstance(owner, dict) and isinstance(owner.get("reference"), str):
            reference: str = owner["reference"]
            if reference.startswith("Patient/"):
                return _patient_ref(reference)
    return None


def _log_of(scope: Scope) -> AuditLog | None:
    # The lifespan puts the Assistant's log there (or, without the agent extra, its own).
    app = scope.get("app")
    log = getattr(getattr(app, "state", None), "audit_log", None)
    return log if isinstance(log, AuditLog) else None


def _templates(app: Any) -> list[tuple[str, re.Pattern[str]]]:
    """The app's API path templates (from its OpenAPI schema) as regular expressions."""
    cached: list[tuple[str, re.Pattern[str]]] | None = getattr(app.state, "audit_templates", None)
    if cached is None:
        cached = []
        for template in app.openapi().get("paths", {}):
            pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
            cached.append((template, re.compile(pattern)))
        app.state.audit_templates = cached
    return cached


def _route_of(scope: Scope, is_fhir: bool, app: Any) -> tuple[str, dict[str, Any]]:
    """The route template and path parameters: as routed, or (for a request refused
    before routing) matched against the app's templates."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if is_fhir:
        inner = template if isinstance(template, str) and template != FHIR_PREFIX else ""
        return FHIR_PREFIX + inner, {}
    if isinstance(template, str) and route is not None and not isinstance(route, Mount):
        return template, dict(scope.get("path_params") or {})
    if app is not None and hasattr(app, "openapi"):
        for template, pattern in _templates(app):
            if found := pattern.fullmatch(scope["path"]):
                return template, found.groupdict()
    return "(no route)", {}


class AccessAuditMiddleware:
    """Write an :class:`~agent.audit.AccessRecord` for every non-public request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        is_fhir = path == FHIR_PREFIX or path.startswith(FHIR_PREFIX + "/")
        peek_request = is_fhir and method == "POST" and path.endswith("/_search")
        peek_response = is_fhir and method == "GET" and path.count("/") == 3
        request_body, response_body = bytearray(), bytearray()
        status = 500

        async def receive_peeking() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(request_body) < _MAX_PEEK_BYTES:
                request_body.extend(message.get("body", b"")[:_MAX_PEEK_BYTES])
            return message

        started = time.perf_counter()
        recorded = False
        log, outer_app = _log_of(scope), scope.get("app")  # a mounted app replaces scope["app"]

        async def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            query = scope.get("query_string", b"").decode("latin-1")
            template, path_params = _route_of(scope, is_fhir, outer_app)
            patient = path_params.get("patient_id")
            if is_fhir:
                params = parse_qsl(query, keep_blank_values=True)
                if peek_request:
                    text = bytes(request_body).decode("utf-8", "replace")
                    params += parse_qsl(text, keep_blank_values=True)
                patient = _fhir_patient(path, params)
                if patient is None and status == 200 and len(response_body) < _MAX_PEEK_BYTES:
                    patient = _owner_in(bytes(response_body))
            row = AccessRecord(
                caller=identify_caller(
                    scope, getattr(getattr(outer_app, "state", None), "tokens", None)
                ),
                channel="api",
                action=f"{method} {template}",
                patient_id=str(patient) if patient is not None else None,
                target=query_shape(path, query),
                status=status,
                thread_id=scope.get(THREAD_KEY),
                ms=(time.perf_counter() - started) * 1000,
            )
            await store_access(log, row)

        async def send_noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                if peek_response and len(response_body) < _MAX_PEEK_BYTES:
                    response_body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    await record()  # before the last byte: no read is served unaudited
            await send(message)

        try:
            await self.app(scope, receive_peeking if peek_request else receive, send_noting)
        finally:
            await record()  # the app failed before finishing its response
