"""The HTTP endpoints: patients, summary, ask, ask as a stream.

Every patient route reads ``Patient/{id}`` first, so a typo'd id is a 404 before any tool
or model runs, and a follow-up on another patient's thread is a 409 before anything
streams.  Errors are JSON ``{"detail", "kind"}`` (see :class:`agent.api.schemas.ErrorOut`);
malformed requests get FastAPI's 422 with the offending field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from agent.api.answering import answer_events, answer_question
from agent.api.runtime import AgentRuntime, ApiError
from agent.api.schemas import AnswerOut, AskRequest, ErrorOut, PatientOut
from agent.api.security import token_of
from agent.cli.patient_summary import display_name
from agent.events import new_thread_id
from agent.summary import SummaryOutput, patient_summary
from fhir_client.directory import PatientEntry, patient_page
from fhir_client.errors import FhirError
from fhir_client.limits import (
    DEFAULT_PATIENT_PAGE,
    MAX_NAME_QUERY_CHARS,
    MAX_PATIENT_OFFSET,
    MAX_PATIENT_PAGE,
)
from tools import make_toolset

__all__ = ["router"]

router = APIRouter()

PatientId = Annotated[
    str,
    Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$", description="The patient's FHIR id."),
]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such patient."},
    502: {"model": ErrorOut, "description": "The FHIR server failed."},
}
_ASK_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    400: {"model": ErrorOut, "description": "The question cannot be answered as asked."},
    409: {"model": ErrorOut, "description": "thread_id belongs to another patient."},
    503: {"model": ErrorOut, "description": "The model failed."},
}


def runtime(request: Request) -> AgentRuntime:
    found: AgentRuntime = request.app.state.runtime
    return found


Runtime = Annotated[AgentRuntime, Depends(runtime)]


def _fhir_failure(rt: AgentRuntime, error: FhirError) -> ApiError:
    return ApiError(502, "fhir_error", f"Error talking to the {rt.source_description}: {error}")


@router.get("/health", tags=["service"])
async def health(rt: Runtime) -> dict[str, str]:
    """Liveness, plus which model and record the answers come from."""
    return {"status": "ok", "model": rt.model_name, "fhir": rt.source_description}


@router.get("/patients", response_model=list[PatientOut], tags=["patients"], responses=_ERRORS)
async def list_patients(
    rt: Runtime,
    request: Request,
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
    token = token_of(request.scope)
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
    patient_id: PatientId,
    rt: Runtime,
    max_tokens: Annotated[int, Query(ge=128, le=16384)] = 2048,
) -> SummaryOutput:
    """A cited overview: problems, medications, allergies, labs, vitals, visits."""
    await rt.read_patient(patient_id)
    try:
        return await patient_summary(make_toolset(rt.client, patient_id), max_tokens=max_tokens)
    except FhirError as error:
        raise _fhir_failure(rt, error) from error


async def _prepare(rt: AgentRuntime, patient_id: str, body: AskRequest) -> str:
    await rt.read_patient(patient_id)
    thread_id = body.thread_id or new_thread_id()
    await rt.check_thread(thread_id, patient_id)
    return thread_id


@router.post(
    "/patients/{patient_id}/ask",
    response_model=AnswerOut,
    tags=["ask"],
    responses=_ASK_ERRORS,
)
async def ask(patient_id: PatientId, body: AskRequest, rt: Runtime) -> AnswerOut:
    """Answer one question; reuse the returned ``thread_id`` to ask a follow-up."""
    thread_id = await _prepare(rt, patient_id, body)
    return await answer_question(rt, patient_id, body.question, thread_id)


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
async def ask_stream(patient_id: PatientId, body: AskRequest, rt: Runtime) -> StreamingResponse:
    """The same answer as Server-Sent Events, so a page can show progress and tokens."""
    thread_id = await _prepare(rt, patient_id, body)
    return StreamingResponse(
        answer_events(rt, patient_id, body.question, thread_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
