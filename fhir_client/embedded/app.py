"""The FHIR REST facade over an EmbeddedStore, as a Starlette ASGI app.

Starlette rather than FastAPI: the facade needs no OpenAPI schema or request
models, and the lighter stack keeps an in-process search in a few
milliseconds. Reads and searches run on the event loop: a paged, indexed
SQLite query takes about a millisecond, less than the hop to a worker thread
(which on a busy 2-core laptop cost more than the query). Writes and
$everything, which can take longer, go to the threadpool so they never block
the loop.

Links and fullUrls are built from the request's own base URL including the
ASGI `root_path`, so the app works at `/`, under `Mount("/fhir", app)` or
behind `uvicorn --root-path /fhir`.

`writable=False` builds the read-only server (the dashboard's `/fhir`): the write
routes do not exist and the CapabilityStatement does not list them. The loader
uses the writable app in-process.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fhir_client._codec import loads_json
from fhir_client.embedded import history
from fhir_client.embedded.capability import capability_statement
from fhir_client.embedded.elements import parse_elements, subset_text
from fhir_client.embedded.errors import SearchError, UnknownResourceType
from fhir_client.embedded.formats import JsonOnly
from fhir_client.embedded.includes import included_rows, truncation_outcome
from fhir_client.embedded.query import MAX_COUNT, check_type, check_views, parse_search
from fhir_client.embedded.registry import REGISTRY
from fhir_client.embedded.responses import error_response, fhir_response, page_links, searchset
from fhir_client.embedded.store import EmbeddedStore, StoreError, validate_resource
from fhir_client.embedded.summary import parse_summary, summarize_text
from fhir_client.embedded.transactions import BundleError, process_bundle
from fhir_client.limits import MAX_PAGE_OFFSET


def base_url(request: Request) -> str:
    """The URL the FHIR base is reachable at, as seen by this request."""
    root = request.scope.get("root_path", "")
    return f"{request.url.scheme}://{request.url.netloc}{root}".rstrip("/")


def create_fhir_app(store: EmbeddedStore, *, writable: bool = True) -> Starlette:
    """An ASGI app serving FHIR R4 REST over `store` at its root path."""

    capabilities: dict[str, str] = {}

    async def metadata(request: Request) -> Response:
        base = base_url(request)
        if base not in capabilities:
            capabilities[base] = json.dumps(capability_statement(base, writable=writable))
        return fhir_response(capabilities[base])

    async def root(request: Request) -> Response:
        return error_response(
            400,
            "This is the FHIR base URL; it serves no resource itself. "
            "GET metadata for what this server does, or [base]/[type] to search.",
            "not-supported",
        )

    async def search(request: Request) -> Response:
        rtype = request.path_params["type"]
        return _search(request, rtype, list(request.query_params.multi_items()))

    async def search_post(request: Request) -> Response:
        from urllib.parse import parse_qsl

        rtype = request.path_params["type"]
        try:
            body = (await request.body()).decode()
        except UnicodeDecodeError:
            return error_response(400, "The form body is not UTF-8; send UTF-8 (percent-encoded)")
        items = [*request.query_params.multi_items(), *parse_qsl(body, keep_blank_values=True)]
        return await run_in_threadpool(_search, request, rtype, items)

    def _search(request: Request, rtype: str, items: list[tuple[str, str]]) -> Response:
        try:
            query = parse_search(rtype, items)
        except UnknownResourceType as exc:
            return error_response(404, str(exc), "not-supported")
        except SearchError as exc:
            return error_response(400, str(exc), "not-supported")
        page = store.search(query)
        included, cut = included_rows(store, rtype, page.rows, query.includes)
        rows = page.rows
        if query.elements or query.summary:
            rows = [
                (t, i, summarize_text(subset_text(text, query.elements), query.summary))
                for t, i, text in rows
            ]
        base = base_url(request)
        links = page_links(
            base,
            rtype,
            items,
            count=query.count,
            offset=query.offset,
            returned=len(page.rows),
            total=page.total,
        )
        outcome = truncation_outcome() if cut else None
        body = searchset(base, rows, page.total, links, included=included, outcome=outcome)
        return fhir_response(body)

    async def read(request: Request) -> Response:
        rtype, rid = request.path_params["type"], request.path_params["id"]
        return _read_version(request, rtype, rid, None)

    async def vread(request: Request) -> Response:
        rtype, rid = request.path_params["type"], request.path_params["id"]
        return _read_version(request, rtype, rid, request.path_params["vid"])

    def _read_version(request: Request, rtype: str, rid: str, vid: str | None) -> Response:
        """read (``vid`` None) and vread: the stored version with its validators."""
        try:
            check_type(rtype)
            elements = parse_elements(rtype, request.query_params.get("_elements", ""))
            view = parse_summary(request.query_params.get("_summary", "false"))
            check_views(elements, view)
        except UnknownResourceType as exc:
            return error_response(404, str(exc), "not-supported")
        except SearchError as exc:
            return error_response(400, str(exc))
        stored = history.stored_version(store, rtype, rid)
        if stored is None or (vid is not None and vid != str(stored.version)):
            message = history.unknown_version_message(rtype, rid, vid or "", stored)
            return error_response(404, message, "not-found")
        if history.not_modified(stored, request.headers):
            return history.not_modified_response(stored)
        text = summarize_text(subset_text(stored.text, elements), view)
        return fhir_response(text, extra_headers=history.version_headers(stored))

    async def instance_history(request: Request) -> Response:
        rtype, rid = request.path_params["type"], request.path_params["id"]
        if history.stored_version(store, rtype, rid) is None and rtype in REGISTRY:
            return error_response(404, f"{rtype}/{rid} is not known to this server", "not-found")
        return _history(request, rtype, rid)

    async def type_history(request: Request) -> Response:
        return _history(request, request.path_params["type"], None)

    async def system_history(request: Request) -> Response:
        return _history(request, None, None)

    def _history(request: Request, rtype: str | None, rid: str | None) -> Response:
        """Instance, type (``rtype``) or system (neither) ``_history``, one page of it."""
        items = list(request.query_params.multi_items())
        try:
            if rtype is not None:
                check_type(rtype)
            query = history.parse_history(items)
        except UnknownResourceType as exc:
            return error_response(404, str(exc), "not-supported")
        except SearchError as exc:
            return error_response(400, str(exc), "not-supported")
        rows, total = store.history_page(
            resource_type=rtype,
            resource_id=rid,
            since=query.since,
            count=query.count,
            offset=query.offset,
        )
        path = "/".join(part for part in (rtype, rid, "_history") if part)
        body = history.history_bundle(base_url(request), path, items, query, rows, total)
        return fhir_response(body)

    async def put(request: Request) -> Response:
        rtype, rid = request.path_params["type"], request.path_params["id"]
        try:
            resource = loads_json(await request.body())
        except ValueError:
            return error_response(400, "The request body is not valid JSON", "structure")
        problem = _put_problem(resource, rtype, rid)
        if problem:
            return error_response(400, problem)
        try:
            result = (await run_in_threadpool(store.put_resources, [resource]))[0]
        except StoreError as exc:
            return error_response(400, str(exc))
        stored = await run_in_threadpool(store.read_text, rtype, rid)
        return fhir_response(
            stored or "{}",
            201 if result.created else 200,
            location=f"{base_url(request)}/{rtype}/{rid}/_history/{result.version}",
            etag=f'W/"{result.version}"',
        )

    async def remove(request: Request) -> Response:
        rtype, rid = request.path_params["type"], request.path_params["id"]
        try:
            check_type(rtype)
        except UnknownResourceType as exc:
            return error_response(404, str(exc), "not-supported")
        await run_in_threadpool(store.delete, rtype, rid)
        return fhir_response(outcome_ok(f"Deleted {rtype}/{rid} (if it existed)"))

    async def operation(request: Request) -> Response:
        rtype, rid = request.path_params["type"], request.path_params["id"]
        op = request.path_params["op"]
        if rtype != "Patient" or op != "$everything":
            return error_response(
                400,
                f"{rtype}/{rid}/{op} is not supported; only Patient/[id]/$everything is",
                "not-supported",
            )
        return await run_in_threadpool(_everything, request, rid)

    def _everything(request: Request, patient_id: str) -> Response:
        items = list(request.query_params.multi_items())
        # The whole record is the usual goal, so pages are as large as allowed.
        count, offset = MAX_COUNT, 0
        types: list[str] = []
        try:
            for name, value in items:
                if name == "_count":
                    count = max(0, min(int(value), MAX_COUNT))
                elif name == "_offset":
                    offset = int(value)
                    if not 0 <= offset <= MAX_PAGE_OFFSET:
                        raise ValueError(f"_offset must be 0 to {MAX_PAGE_OFFSET}")
                elif name == "_type":
                    types.extend(t for t in value.split(",") if t)
                    for t in types:
                        check_type(t)
                elif name not in ("_format", "_total"):
                    return error_response(
                        400,
                        f"$everything does not support parameter {name!r}; "
                        "supported: _count, _offset, _type",
                        "not-supported",
                    )
        except (ValueError, SearchError) as exc:
            return error_response(400, f"Invalid $everything parameter: {exc}")
        page = store.everything(patient_id, count=count, offset=offset, types=types)
        if page is None:
            return error_response(
                404, f"Patient/{patient_id} is not known to this server", "not-found"
            )
        base = base_url(request)
        links = page_links(
            base,
            f"Patient/{patient_id}/$everything",
            items,
            count=count,
            offset=offset,
            returned=len(page.rows),
            total=page.total,
        )
        return fhir_response(searchset(base, page.rows, page.total, links))

    async def bundle(request: Request) -> Response:
        try:
            body = loads_json(await request.body())
        except ValueError:
            return error_response(400, "The request body is not valid JSON", "structure")
        try:
            response = await run_in_threadpool(process_bundle, store, body)
        except BundleError as exc:
            return error_response(400, str(exc))
        return fhir_response(response)

    routes = [
        Route("/metadata", metadata, methods=["GET"]),
        Route("/", root, methods=["GET"]),
        Route("/_history", system_history, methods=["GET"]),
        Route("/{type}", search, methods=["GET"]),
        Route("/{type}/_history", type_history, methods=["GET"]),
        Route("/{type}/_search", search_post, methods=["POST"]),
        Route("/{type}/{id}", read, methods=["GET"]),
        Route("/{type}/{id}/_history", instance_history, methods=["GET"]),
        Route("/{type}/{id}/_history/{vid}", vread, methods=["GET"]),
        Route("/{type}/{id}/{op}", operation, methods=["GET"]),
    ]
    if writable:
        routes += [
            Route("/", bundle, methods=["POST"]),
            Route("/{type}/{id}", put, methods=["PUT"]),
            Route("/{type}/{id}", remove, methods=["DELETE"]),
        ]
    app = Starlette(routes=routes, middleware=[Middleware(JsonOnly)])
    app.state.store = store
    return app


def outcome_ok(message: str) -> dict[str, Any]:
    """An informational OperationOutcome (used for DELETE)."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational", "diagnostics": message}],
    }


def _put_problem(resource: object, rtype: str, rid: str) -> str | None:
    try:
        check_type(rtype)
    except UnknownResourceType as exc:
        return str(exc)
    if not isinstance(resource, dict):
        return "The request body must be a FHIR resource (a JSON object)"
    if resource.get("resourceType") != rtype:
        return (
            f"resourceType {resource.get('resourceType')!r} in the body does not match "
            f"{rtype!r} in the URL"
        )
    if resource.get("id") != rid:
        return (
            f"The body's id {resource.get('id')!r} does not match the URL id {rid!r}; "
            "PUT [type]/[id] needs the same id in both"
        )
    try:
        validate_resource(resource, 0)
    except StoreError as exc:
        return str(exc)
    return None
