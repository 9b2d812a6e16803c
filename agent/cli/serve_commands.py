"""``ehr-agent serve``: the dashboard and its HTTP API (see ``agent/api/README.md``).

The model is loaded here, before uvicorn binds the port, so a wrong ``--model`` is an
error on the terminal rather than a 503 on the first question.  Without ``--model`` (or
``EHR_AGENT_MODEL``) MedGemma is used when it is in the model cache, else the rule-based
path, with a notice saying how to get the model.  The default host is 127.0.0.1: the page
shows a patient's record, so exposing it on a network must be a deliberate ``--host``,
and is refused unless API tokens are configured (``--tokens`` or ``EHR_AGENT_API_TOKENS``;
see :mod:`agent.api.security`).  ``--hash-token`` prints the hash a tokens file stores.

``--workers N`` runs N uvicorn processes: the options go to them through the environment
(:mod:`agent.api.serve_app`), an empty embedded store is filled here first (once, not
by N racing workers), and threads, turn order and the audit live in shared databases.
The access log never shows query values (:mod:`agent.api.access_log`).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.api.access_log import uvicorn_log_config
from agent.api.host_guard import ENV_ALLOWED_HOSTS
from agent.api.security import (
    ENV_API_TOKENS,
    InsecureBinding,
    TokenConfigError,
    TokenRegistry,
    check_exposure,
    hash_token,
    install_key,
)
from agent.api.serve_app import ENV_CHECKPOINT_DB
from agent.cli import rendering
from agent.cli.model_commands import ENV_MODEL, resolve_model_spec
from agent.cli.options import DbOption, FhirTokenOption, FhirUrlOption, settings_from_options
from agent.models.base import ChatModel, ModelError
from agent.models.spec import load_model
from agent.settings import ENV_DB, ENV_FHIR_TOKEN, ENV_FHIR_URL, Settings
from fhir_client.limits import WORKER_HEALTHCHECK_SECONDS

MAX_WORKERS = 64


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
    try:
        digest = hash_token(token, install_key())
    except TokenConfigError as error:
        rendering.notify(f"Error: {error}")
        raise typer.Exit(1) from error
    sys.stdout.write(digest + "\n")
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
            help="Read a token from stdin, print the hmac a tokens file stores, and exit.",
        ),
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help=(
                "A host name clients use to reach the server, besides loopback and its "
                f"address (repeatable; '*' for any, behind a proxy) [env {ENV_ALLOWED_HOSTS}]."
            ),
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", min=1, max=MAX_WORKERS, help="Server processes (each loads the model)."
        ),
    ] = 1,
) -> None:
    """Serve the dashboard at / and the API (OpenAPI docs at /docs)."""
    import uvicorn

    from agent.api import create_app

    settings = settings_from_options(db, fhir_url, fhir_token)
    if workers > 1 and (checkpoint_db == ":memory:" or str(settings.db_path) == ":memory:"):
        rendering.notify(
            "Error: --workers needs databases the workers share; a :memory: store or "
            "--checkpoint-db would be one per process. Give files (or a postgresql:// URL)."
        )
        raise typer.Exit(2)
    tokens = _tokens(tokens_file, host)
    spec, chosen = _model(model)
    hosts = list(allowed_host or []) or (os.environ.get(ENV_ALLOWED_HOSTS) or "").split(",")
    access = f"{len(tokens.tokens)} API token(s)" if tokens else "no authentication (loopback)"
    rendering.notify(
        f"Serving the {settings.source_description} with model {spec} at "
        f"http://{host}:{port}/ (API docs at /docs; {access}; {workers} worker(s)). "
        "Not for clinical decisions."
    )
    if workers == 1:
        app = create_app(
            settings, model=chosen, checkpoint=checkpoint_db, tokens=tokens, allowed_hosts=hosts
        )
        uvicorn.run(app, host=host, port=port, log_config=uvicorn_log_config())
        return
    _fill_before_forking(settings)
    _export_for_workers(settings, spec, checkpoint_db, tokens_file, hosts)
    uvicorn.run(
        "agent.api.serve_app:create_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=uvicorn_log_config(),
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


def _fill_before_forking(settings: Settings) -> None:
    """Fill an empty embedded store once, here, rather than in N racing workers."""
    if not settings.uses_embedded_store:
        return
    from agent.record_source import fill_from_fixtures, open_embedded_store

    store = open_embedded_store(settings.db_path)
    try:
        if store.is_empty():
            asyncio.run(fill_from_fixtures(store, settings.fixtures_dir, rendering.notify))
    finally:
        store.close()


def _export_for_workers(
    settings: Settings,
    spec: str,
    checkpoint_db: str | None,
    tokens_file: Path | None,
    hosts: list[str],
) -> None:
    """The resolved options, as the environment :mod:`agent.api.serve_app` reads."""
    os.environ[ENV_MODEL] = spec
    os.environ[ENV_DB] = str(settings.db_path)
    if settings.fhir_url:
        os.environ[ENV_FHIR_URL] = settings.fhir_url
    if settings.fhir_token:  # the documented variable for it; never a command-line argument
        os.environ[ENV_FHIR_TOKEN] = settings.fhir_token
    if checkpoint_db:
        os.environ[ENV_CHECKPOINT_DB] = checkpoint_db
    if tokens_file is not None:
        os.environ[ENV_API_TOKENS] = str(tokens_file.resolve())
    os.environ[ENV_ALLOWED_HOSTS] = ",".join(h for h in hosts if h)
