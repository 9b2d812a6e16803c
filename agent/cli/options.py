"""Command-line options shared by every command that talks to the record.

Declared once so ``load``, ``patients`` and later commands spell them, and
document their environment variables, identically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.settings import ENV_DB, ENV_FHIR_TOKEN, ENV_FHIR_URL, Settings

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help=f"Embedded store database file [env {ENV_DB}; default: per-user data directory].",
        show_default=False,
    ),
]
FhirUrlOption = Annotated[
    str | None,
    typer.Option(
        "--fhir-url",
        help=f"Use this FHIR R4 server instead of the embedded store [env {ENV_FHIR_URL}].",
        show_default=False,
    ),
]
FhirTokenOption = Annotated[
    str | None,
    typer.Option(
        "--fhir-token",
        help=f"Bearer token for --fhir-url [env {ENV_FHIR_TOKEN}; prefer the env var].",
        show_default=False,
    ),
]


def settings_from_options(
    db: Path | None, fhir_url: str | None, fhir_token: str | None
) -> Settings:
    return Settings.resolve(db_path=db, fhir_url=fhir_url, fhir_token=fhir_token)
