"""The HTTP endpoints: patients, summary, ask, ask as a stream.

Every patient route reads ``Patient/{id}`` first, so a typo'd id is a 404 before any tool
or model runs, and a follow-up on another patient's thread is a 409 before anything
streams.  Errors are JSON ``{"detail", "kind"}`` (see :class:`agent.api.schemas.ErrorOut`);
malformed requests get FastAPI's 422 with the offending field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sse_starlette import EventSourceResponse

from agent.api.access_audit import note_thread
from agent.api.answering import SSE_SEPARATOR, answer_events, answer_question
from agent.api.runtime import ApiError, public_model_name, public_source
from agent.api.schemas import AnswerOut, AskRequest, ErrorOut, PatientOut
from agent.api.security import Caller, GrantedPatient, caller_of
from agent.assistant import Assistant
from agent.events import new_thread_id
from agent.summary import SummaryOutput
from agent.threads import ThreadClaim
from fhir_client.directory import PatientEntry, patient_page
from fhir_client.embedded.responses import fhir_response
from fhir_client.errors import FhirError, ResourceNotFound
from fhir_client.ids import ID_PATH_PATTERN, TYPE_PATH_PATTERN
from fhir_client.limits import (
    DEFAULT_PATIENT_PAGE,
    MAX_NAME_QUERY_CHARS,
    MAX_PATIENT_OFFSET,
    MAX_PATIENT_PAGE,
)
from fhir_client.names import display_name
from tools.scope import SHARED_TYPES, PatientScope

__all__ = ["router"]

router = APIRouter()

ResourceType = Annotated[str, Path(pattern=TYPE_PATH_PATTERN, description="A FHIR resource type.")]
ResourceId = Annotated[str, Path(pattern=ID_PATH_PATTERN, description="The resource's FHIR id.")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such patient."},
    502: {"model": ErrorOut, "description": "The FHIR server failed."},
}
_ASK_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    400: {"model": ErrorOut, "description": "The question cannot be answered as asked."},
    409: {
        "model": ErrorOut,
        "description": "thread_id is this caller's conversation about another patient, "
        "or its earlier turn is still running.",
    },
    503: {"model": ErrorOut, "description": "The model failed."},
}


def runtime(request: Request) -> Assistant:
    found: Assistant = request.app.state.runtime
    return found


Runtime = Annotated[Assistant, Depends(runtime)]


def _fhir_failure(rt: Assistant, error: FhirError) -> ApiError:
    return ApiError(502, "fhir_error", f"Error talking to the {rt.source_description}: {error}")


@router.get("/health", tags=["service"])
async def health(rt: Runtime, response: Response) -> dict[str, str]:
    """Liveness and the thread store's state (503 while it fails), plus which kind of
    model and record answer (no paths, URLs or ids)."""
    state = await rt.health()
    if state["status"] != "ok":
        response.status_code = 503
    return {**state, "model": public_model_name(rt), "fhir": public_source(rt)}


@router.get("/patients", response_model=list[PatientOut], tags=["patients"], responses=_ERRORS)
async def list_patients(
    rt: Runtime,
    token: Caller,
    response: Response,
    name: Annotated[
        str | None,
        Query(max_length=MAX_NAME_QUERY_CHARS, description="A prefix of any name part."),
    ] = None,
    count: Annotated[int, Query(ge=1, le=MAX_PATIENT_PAGE)] = DEFAULT_PATIENT_PAGE,
    offset: Annotated[int, Query(ge=0, le=MAX_PATIENT_OFFSET)] = 0,
    counts: Annotated[bool, Query(description="Add each record's resources by type.")] = False,
) -> list[PatientOut]:
    """A page of the patients this caller may see, sorted by family then given name.

    The ``X-Total-Count`` header says how many match in all. The cost follows the
    page: the store's index (or ``_summary=count`` on a remote server), never whole
    records.
    """
    only = None if token is None or token.patients is None else token.patients
    try:
        page = await patient_page(
            rt.client, name=name, count=count, offset=offset, only=only, with_counts=counts
        )
    except FhirError as error:
        raise _fhir_failure(rt, error) from error
    if page.total is not None:
        response.headers["X-Total-Count"] = str(page.total)
    return [_patient_out(entry, counts) for entry in page.entries]


def _patient_out(entry: PatientEntry, counts: bool) -> PatientOut:
    patient = entry.patient
    return PatientOut(
        id=str(patient["id"]),
        name=display_name(patient),
        gender=patient.get("gender"),
        birth_date=patient.get("birthDate"),
        deceased=bool(patient.get("deceasedBoolean")) or "deceasedDateTime" in patient,
        resource_counts=entry.resource_counts if counts else None,
    )


@router.get(
    "/patients/{patient_id}/summary",
    response_model=SummaryOutput,
    tags=["patients"],
    responses=_ERRORS,
)
async def summary(
    patient_id: GrantedPatient,
    rt: Runtime,
    max_tokens: Annotated[int, Query(ge=128, le=16384)] = 2048,
) -> SummaryOutput:
    """A cited overview: problems, medications, allergies, labs, vitals, visits."""
    try:
        return await rt.summary(patient_id, max_tokens=max_tokens)
    except FhirError as error:
        raise _fhir_failure(rt, error) from error


async def _prepare(
    rt: Assistant, request: Request, patient_id: str, body: AskRequest
) -> ThreadClaim:
    await rt.check_patient(patient_id)
    thread_id = body.thread_id or new_thread_id()
    note_thread(request.scope, thread_id)
    return await rt.claim_thread(thread_id, patient_id, caller=caller_of(request.scope))


@router.post(
    "/patients/{patient_id}/ask",
    response_model=AnswerOut,
    tags=["ask"],
    responses=_ASK_ERRORS,
)
async def ask(
    patient_id: GrantedPatient, body: AskRequest, rt: Runtime, request: Request
) -> AnswerOut:
    """Answer one question; reuse the returned ``thread_id`` to ask a follow-up."""
    claim = await _prepare(rt, request, patient_id, body)
    return await answer_question(rt, claim, body.question)


@router.post(
    "/patients/{patient_id}/ask/stream",
    tags=["ask"],
    responses={
        **_ASK_ERRORS,
        200: {
            "content": {"text/event-stream": {}},
            "description": "SSE: step*, token*, then done (an AnswerOut) or error, last.",
        },
    },
)
async def ask_stream(
    patient_id: GrantedPatient, body: AskRequest, rt: Runtime, request: Request
) -> EventSourceResponse:
    """The same answer as Server-Sent Events, so a page can show progress and tokens."""
    claim = await _prepare(rt, request, patient_id, body)
    # sse-starlette frames the events, pings an idle stream (a comment every 15 s, so
    # proxies keep it open while a CPU model thinks) and stops on a client disconnect.
    return EventSourceResponse(answer_events(rt, claim, body.question), sep=SSE_SEPARATOR)


@router.get(
    "/patients/{patient_id}/resources/{resource_type}/{resource_id}",
    tags=["patients"],
    responses={
        **_ERRORS,
        200: {"content": {"application/fhir+json": {}}, "description": "The FHIR resource."},
    },
)
async def patient_resource(
    patient_id: GrantedPatient, resource_type: ResourceType, resource_id: ResourceId, rt: Runtime
) -> Response:
    """One resource of this patient's record: what a citation links to.

    A token scoped to this patient may open it (``/fhir`` needs a token for every
    patient), so the resource must be in the patient's compartment (or a shared one such
    as a Medication or a Practitioner); anything else is the same 404 as a missing one,
    so other patients' ids cannot be probed.
    """
    await rt.check_patient(patient_id)
    missing = ApiError(
        404,
        "unknown_resource",
        f"No {resource_type}/{resource_id} in this patient's record.",
    )
    try:
        resource = await rt.client.read(resource_type, resource_id)
    except ResourceNotFound as error:
        raise missing from error
    except FhirError as error:
        raise _fhir_failure(rt, error) from error
    scope = PatientScope(rt.client, patient_id)
    if resource_type not in SHARED_TYPES and not scope.belongs_to_patient(resource):
        raise missing
    return fhir_response(resource)
