"""``ehr-agent audit``: who asked what about which patient, what was read, what was cited.

Reads the audit database the other commands write (see :mod:`agent.audit`): by default
the one next to ``--db``, else ``$EHR_AGENT_AUDIT_DB``.  Two views: the answers (default;
one table per answer, with its FHIR requests) and, with ``--reads``, every read and
refused request (API routes, ``/fhir``, CLI commands), one row each.  Both filter by
``--caller`` (a token's name, ``cli:<user>``, ``anonymous``, ``unauthenticated``) and
``--patient``.  ``--json`` prints one JSON list for scripts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from agent.audit import AccessRecord, AuditEntry, AuditLog, default_audit_path
from agent.cli import rendering
from agent.cli.options import DbOption, FhirTokenOption, FhirUrlOption, settings_from_options

__all__ = ["audit"]


def _as_json(entry: AuditEntry) -> dict[str, Any]:
    answer = entry.answer.as_json()
    answer["citations"] = [
        {"reference": c.reference, "verified": c.verified} for c in entry.citations
    ]
    answer["fhir_requests"] = [
        r.as_json(exclude=frozenset({"answer_id", "thread_id", "patient_id"}))
        for r in entry.requests
    ]
    return answer


def _table(entry: AuditEntry) -> Table:
    answer = entry.answer
    outcome = f"error: {answer.error}" if answer.error else f"model {answer.model}"
    if answer.fallback:
        outcome += " (extractive fallback)"
    cited = ", ".join(
        c.reference if c.verified else f"{c.reference} (unverified)" for c in entry.citations
    )
    table = Table(
        title=(
            f"{answer.at:%Y-%m-%d %H:%M:%S} UTC  patient {answer.patient_id}  "
            f"thread {answer.thread_id}  via {answer.channel}"
            + (f"  by {answer.caller}" if answer.caller else "")
        ),
        caption=f"Q: {answer.question}\n{outcome}; cited: {cited or 'nothing'}",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("method")
    table.add_column("path")
    for column in ("status", "results", "ms"):
        table.add_column(column, justify="right")
    for request in entry.requests:
        count = "-" if request.result_count is None else str(request.result_count)
        table.add_row(request.method, request.path, str(request.status), count, f"{request.ms:.1f}")
    return table


def _reads_table(rows: list[AccessRecord]) -> Table:
    table = Table(title="Reads and refused requests", title_justify="left")
    for column in ("at (UTC)", "caller", "action", "patient", "target", "thread"):
        table.add_column(column, overflow="fold")
    table.add_column("status", justify="right")
    for row in rows:
        table.add_row(
            f"{row.at:%Y-%m-%d %H:%M:%S}",
            row.caller,
            row.action,
            row.patient_id or "-",
            row.target,
            row.thread_id or "-",
            str(row.status),
        )
    return table


def audit(
    patient: Annotated[
        str | None, typer.Option("--patient", "-p", help="Only this patient's questions.")
    ] = None,
    caller: Annotated[
        str | None,
        typer.Option("--caller", help="Only this caller's (a token's name, cli:USER, anonymous)."),
    ] = None,
    reads: Annotated[
        bool,
        typer.Option("--reads", help="Show every read and refused request instead of answers."),
    ] = False,
    thread: Annotated[
        str | None, typer.Option("--thread", help="Only this conversation thread.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="Show the newest N answers (or reads).")
    ] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list on stdout.")] = False,
    audit_db: Annotated[
        Path | None,
        typer.Option(
            "--audit-db",
            help="Audit SQLite file [env EHR_AGENT_AUDIT_DB; default: next to --db].",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    fhir_url: FhirUrlOption = None,
    fhir_token: FhirTokenOption = None,
) -> None:
    """Show the audit log: each answer with its citations and the FHIR requests it made."""
    path = audit_db or default_audit_path(settings_from_options(db, fhir_url, fhir_token))
    if not path.is_file():
        rendering.notify(
            f"No audit log at {path} yet; it is written by `ask`, `chat` and `serve` "
            "(pass --db or --audit-db to read another one)."
        )
        raise typer.Exit(1)
    log = AuditLog(path)
    try:
        if reads:
            _show_reads(log.accesses(caller=caller, patient_id=patient, limit=limit), as_json)
            return
        entries = log.entries(patient_id=patient, thread_id=thread, caller=caller, limit=limit)
    finally:
        log.close()
    if as_json:
        json.dump([_as_json(e) for e in entries], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if not entries:
        rendering.notify("No audited answers match.")
        return
    for entry in entries:
        rendering.stdout.print(_table(entry))


def _show_reads(rows: list[AccessRecord], as_json: bool) -> None:
    if as_json:
        json.dump([row.as_json() for row in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif rows:
        rendering.stdout.print(_reads_table(rows))
    else:
        rendering.notify("No audited reads match.")
