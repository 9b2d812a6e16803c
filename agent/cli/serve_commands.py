"""``ehr-agent serve``: the dashboard and its HTTP API (see ``agent/api/README.md``).

The model is loaded here, before uvicorn binds the port, so a wrong ``--model`` is an
error on the terminal rather than a 503 on the first question.  Without ``--model`` (or
``EHR_AGENT_MODEL``) MedGemma is used when it is in the model cache, else the rule-based
path, with a notice saying how to get the model.  The default host is 127.0.0.1: the page
shows a patient's record, so exposing it on a network must be a deliberate ``--host``,
and is refused unless API tokens are configured (``--tokens`` or ``EHR_AGENT_API_TOKENS``;
see :mod:`agent.api.security`).  ``--hash-token`` prints the hash a tokens file stores.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.api.security import (
    ENV_API_TOKENS,
    InsecureBinding,
    TokenConfigError,
    TokenRegistry,
    check_exposure,
    hash_token,
)
from agent.cli import rendering
from agent.cli.model_commands import ENV_MODEL, resolve_model_spec
from agent.cli.options import DbOption, FhirTokenOption, FhirUrlOption, settings_from_options
from agent.models.base import ChatModel, ModelError
from agent.models.spec import load_model


def _model(spec: str | None) -> tuple[str, ChatModel | None]:
    chosen, notice = resolve_model_spec(spec)
    if notice:
        rendering.notify(notice)
    try:
        return chosen, load_model(chosen)
    except (ModelError, ValueError, FileNotFoundError) as error:
        rendering.notify(f"Error: cannot use model {chosen!r}: {error}")
        raise typer.Exit(1) from error


def _print_token_hash(wanted: bool) -> None:
    """``--hash-token``: read a token (hidden prompt, or stdin) and print its SHA-256.

    The token is never an argument, so it stays out of shell history and ``ps``.
    """
    if not wanted:
        return
    if sys.stdin.isatty():
        token = getpass.getpass("Token to hash (not echoed): ")
    else:
        token = sys.stdin.readline()
    token = token.strip()
    if not token:
        rendering.notify("Error: no token given on stdin; nothing to hash.")
        raise typer.Exit(1)
    sys.stdout.write(hash_token(token) + "\n")
    raise typer.Exit(0)


def _tokens(option: Path | None, host: str) -> TokenRegistry | None:
    try:
        tokens = TokenRegistry.resolve(option)
        check_exposure(host, tokens)
    except (TokenConfigError, InsecureBinding) as error:
        rendering.notify(f"Error: {error}")
        raise typer.Exit(1) from error
    return tokens


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
    tokens_file: Annotated[
        Path | None,
        typer.Option(
            "--tokens",
            help=(
                f"JSON/TOML file of API token hashes and their patients [env {ENV_API_TOKENS}]; "
                "required to listen beyond 127.0.0.1."
            ),
            show_default=False,
        ),
    ] = None,
    hash_token_flag: Annotated[
        bool,
        typer.Option(
            "--hash-token",
            is_eager=True,
            callback=_print_token_hash,
            help="Read a token from stdin, print the sha256 a tokens file stores, and exit.",
        ),
    ] = False,
) -> None:
    """Serve the dashboard at / and the API (OpenAPI docs at /docs)."""
    import uvicorn

    from agent.api import create_app

    settings = settings_from_options(db, fhir_url, fhir_token)
    tokens = _tokens(tokens_file, host)
    spec, chosen = _model(model)
    app = create_app(settings, model=chosen, checkpoint=checkpoint_db, tokens=tokens)
    access = f"{len(tokens.tokens)} API token(s)" if tokens else "no authentication (loopback)"
    rendering.notify(
        f"Serving the {settings.source_description} with model {spec} at "
        f"http://{host}:{port}/ (API docs at /docs; {access}). Not for clinical decisions."
    )
    uvicorn.run(app, host=host, port=port, log_level="info")
