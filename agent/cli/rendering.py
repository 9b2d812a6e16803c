"""How load progress and summaries look in a terminal.

Progress and notices go to stderr; results go to stdout, so output can be
piped (``ehr-agent patients --json | jq``) without banners in the way.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent.patients import PatientSummary

if TYPE_CHECKING:  # the table only reads attributes; no import of the graph's state here
    from agent.output import AgentOutput

stdout = Console()
stderr = Console(stderr=True)

TOP_TYPES_SHOWN = 4


def notify(message: str) -> None:
    """A one-line notice for the user, on stderr."""
    stderr.print(message, highlight=False, markup=False, soft_wrap=True)


#: Below this many columns the patients table keeps only id, name, birth date and the
#: record size, so the id (what ``--patient`` takes) is never cut or wrapped.
NARROW_TERMINAL_COLUMNS = 110


def patients_table(patients: list[PatientSummary], *, width: int | None = None) -> Table:
    """The patients as a table for a terminal ``width`` columns wide.

    The id column is never truncated or wrapped: it is what ``--patient`` takes.
    In a narrow terminal the less important columns go, rather than every column
    being squeezed to a few characters.
    """
    narrow = width is not None and width < NARROW_TERMINAL_COLUMNS
    id_width = max((len(p.id) for p in patients), default=2)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("Id", no_wrap=True, min_width=id_width, overflow="ignore")
    table.add_column("Name", overflow="fold", ratio=1)
    if not narrow:
        table.add_column("Gender", no_wrap=True)
    table.add_column("Birth date", no_wrap=True)
    if not narrow:
        table.add_column("Deceased", no_wrap=True)
    table.add_column("Resources", justify="right", no_wrap=True)
    if not narrow:
        table.add_column("Most common", overflow="fold", ratio=2)
    for patient in patients:
        cells = [patient.id, _one_line(patient.name)]
        if not narrow:
            cells.append(patient.gender or "")
        cells.append(patient.birth_date or "")
        if not narrow:
            cells.append(_deceased(patient))
        cells.append(str(patient.resource_total))
        if not narrow:
            cells.append(_most_common(patient))
        # Text, not str: record text is never read as Rich markup ("[red]...").
        table.add_row(*(Text(cell) for cell in cells))
    return table


def patient_rows(patients: list[PatientSummary]) -> list[str]:
    """One tab-separated line per patient, for a pipe (``cut -f1``, ``awk -F'\\t'``).

    As ``gh`` and ``llm`` do when stdout is not a terminal: no table, no header,
    no colour, nothing cut, one record per line.
    """
    return [
        "\t".join(
            [
                patient.id,
                _one_line(patient.name),
                patient.gender or "",
                patient.birth_date or "",
                _deceased(patient),
                str(patient.resource_total),
                _most_common(patient),
            ]
        )
        for patient in patients
    ]


def print_patients(patients: list[PatientSummary]) -> None:
    """Plain rows into a pipe, a table that fits the terminal otherwise (stdout)."""
    if not stdout.is_terminal:
        # Straight to the stream: Rich would expand the tabs into spaces.
        stdout.file.write("".join(f"{line}\n" for line in patient_rows(patients)))
        return
    stdout.print(patients_table(patients, width=stdout.width))


def _deceased(patient: PatientSummary) -> str:
    return (patient.deceased_date or "yes") if patient.deceased else ""


def _most_common(patient: PatientSummary) -> str:
    top = sorted(patient.resource_counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} {count}" for name, count in top[:TOP_TYPES_SHOWN])


def _one_line(text: str) -> str:
    """Record text on one line and inert: a tab or newline in a name must not split a
    row, and an escape sequence in it must not reach the terminal."""
    printable = "".join(" " if unicodedata.category(c) in _CONTROL else c for c in text)
    return " ".join(printable.split())


_CONTROL = frozenset({"Cc", "Cf", "Zl", "Zp"})


_DATED = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T\S*)?\s+(.*)$", re.DOTALL)


def split_evidence_line(line: str) -> tuple[str, str]:
    """(date, what) from an evidence line such as ``2024-03-02 HbA1c 7.02 %``.

    Evidence lines start with their date when the resource has one; undated
    lines (an allergy, the patient) keep the whole text as "what".
    """
    match = _DATED.match(line.strip())
    if match is None:
        return "", line.strip()
    return match.group(1), match.group(2).strip()


def sources_table(output: AgentOutput) -> Table:
    """The verified citations of one answer as date, type, what and full reference.

    Shared by ``ask`` and ``chat`` so a source looks the same everywhere. Only
    a narrow terminal folds the reference; it is what a user copies to look
    the resource up, so it is never cut short with an ellipsis.
    """
    table = Table(title="Sources", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("Date", no_wrap=True)
    table.add_column("Type", no_wrap=True)
    table.add_column("What", overflow="fold")
    table.add_column("Reference", overflow="fold")
    for citation in output.citations:
        if not citation.verified:
            continue
        date, what = split_evidence_line(citation.line or "")
        table.add_row(date, citation.reference.split("/", 1)[0], what, citation.reference)
    return table
