"""``ehr-agent serve``: the dashboard and its HTTP API (see ``agent/api/README.md``).

The model is loaded here, before uvicorn binds the port, so a wrong ``--model`` is an
error on the terminal rather than a 503 on the first question.  Without ``--model`` (or
``EHR_AGENT_MODEL``) MedGemma is used when it is in the model cache, else the rule-based
path, with a notice saying how to get the model.  The default host is 127.0.0.1: the page
shows a patient's record, so exposing it on a network must be a deliberate ``--host``.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from agent.cli import rendering
from agent.cli.model_commands import default_model_spec
from agent.cli.options import DbOption, FhirTokenOption, FhirUrlOption, settings_from_options
from agent.models.base import ChatModel, ModelError
from agent.models.spec import load_model

ENV_MODEL = "EHR_AGENT_MODEL"


def _model(spec: str | None) -> tuple[str, ChatModel | None]:
    chosen = spec or os.environ.get(ENV_MODEL)
    if not chosen:
        chosen, notice = default_model_spec()
        if notice:
            rendering.notify(notice)
    try:
        return chosen, load_model(chosen)
    except (ModelError, ValueError, FileNotFoundError) as error:
        rendering.notify(f"Error: cannot use model {chosen!r}: {error}")
        raise typer.Exit(1) from error


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Interface to listen on (0.0.0.0 for all).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help=(
                f"none, medgemma, PATH.gguf or openai:URL#model [env {ENV_MODEL}; "
                "default: medgemma if cached, else none]."
            ),
            show_default=False,
        ),
    ] = None,
    checkpoint_db: Annotated[
        str | None,
        typer.Option(
            "--checkpoint-db",
            help="SQLite file (or postgresql:// URL) for conversation threads [default: data dir].",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    fhir_url: FhirUrlOption = None,
    fhir_token: FhirTokenOption = None,
) -> None:
    """Serve the dashboard at / and the API (OpenAPI docs at /docs)."""
    import uvicorn

    from agent.api import create_app

    settings = settings_from_options(db, fhir_url, fhir_token)
    spec, chosen = _model(model)
    app = create_app(settings, model=chosen, checkpoint=checkpoint_db)
    rendering.notify(
        f"Serving the {settings.source_description} with model {spec} at "
        f"http://{host}:{port}/ (API docs at /docs). Not for clinical decisions."
    )
    uvicorn.run(app, host=host, port=port, log_level="info")
