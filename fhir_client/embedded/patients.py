"""One page of the patient list straight from the store's indexes.

Listing patients with their record sizes used to run ``$everything`` per patient
(19 s and 458 MB on 20 lifetime records). Here a page is three indexed queries,
whatever the size of the records: the page of Patient rows (filtered by a name
prefix, sorted by family then given name), their total, and the number of
resources per type in those patients' compartments (``ix_resource_patient``
answers that from the index alone).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from dataclasses import dataclass

from fhir_client.embedded.connection import scalar
from fhir_client.embedded.text_search import normalize_string

# The first HumanName is the one a list shows (Synthea writes the official name
# first, the maiden name after it); sorting by the smallest of all family names
# would put a married patient under her maiden name.
_FAMILY = "lower(json_extract(r.json_text, '$.name[0].family'))"
_GIVEN = "lower(json_extract(r.json_text, '$.name[0].given[0]'))"
_ORDER = f"{_FAMILY} IS NULL, {_FAMILY}, {_GIVEN}, r.res_id"


@dataclass(frozen=True, slots=True)
class PatientRows:
    """Patients of one page as stored JSON text, the total, and counts per patient."""

    patients: list[str]  # JSON text of each Patient, in page order
    total: int
    counts: dict[str, dict[str, int]]  # patient id -> resource type -> number


def patient_rows(
    conn: sqlite3.Connection,
    *,
    name: str | None,
    count: int,
    offset: int,
    only: Collection[str] | None,
    with_counts: bool,
) -> PatientRows:
    """A page of patients; ``name`` is a prefix of any name part (FHIR ``name=``),
    ``only`` restricts the list to those ids (a token scoped to some patients)."""
    where = ["r.res_type = 'Patient'"]
    args: list[object] = []
    if name:
        low = normalize_string(name.strip())
        where.append(
            "r.rid IN (SELECT rid FROM idx_string WHERE res_type = 'Patient' "
            "AND param = 'name' AND norm >= ? AND norm < ?)"
        )
        args += [low, low + "\U0010ffff"]
    if only is not None:
        ids = sorted(only)
        if not ids:
            return PatientRows([], 0, {})
        where.append(f"r.res_id IN ({', '.join('?' * len(ids))})")
        args += ids
    condition = " AND ".join(where)
    total = int(
        scalar(conn.execute(f"SELECT COUNT(*) FROM resource r WHERE {condition}", tuple(args))) or 0
    )
    rows = list(
        conn.execute(
            f"SELECT r.res_id, r.json_text FROM resource r WHERE {condition} "
            f"ORDER BY {_ORDER} LIMIT ? OFFSET ?",
            (*args, count, offset),
        )
    )
    counts: dict[str, dict[str, int]] = {str(pid): {} for pid, _ in rows}
    if with_counts and rows:
        marks = ", ".join("?" * len(rows))
        for pid, rtype, number in conn.execute(
            "SELECT patient_id, res_type, COUNT(*) FROM resource "
            f"WHERE patient_id IN ({marks}) GROUP BY patient_id, res_type",
            tuple(pid for pid, _ in rows),
        ):
            counts[str(pid)][str(rtype)] = int(number)
    return PatientRows([str(text) for _, text in rows], total, counts)
