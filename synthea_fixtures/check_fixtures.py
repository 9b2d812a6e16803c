#!/usr/bin/env python3
"""Sanity-check the committed Synthea fixtures and print a summary table.

Usage: python3 synthea_fixtures/check_fixtures.py [synthea_fixtures/fhir]

Standard library only. Exits non-zero if a check fails:
- every patient file is a FHIR transaction Bundle with one living Patient
  aged 18 or more at the reference date;
- every patient has at least one MedicationRequest, Immunization and
  DocumentReference; every type 2 diabetic has an HbA1c (LOINC 4548-4);
- the set covers >= 10 patients, >= 2 diabetics, >= 3 hypertensives, >= 1 CKD,
  >= 1 asthma or COPD; hospital and practitioner bundles are present;
- each patient bundle is under 5 MB and the whole directory under 30 MB.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import sys
from pathlib import Path

REFERENCE_DATE = dt.date(2025, 1, 1)  # generate.sh: -r 20250101
MAX_PATIENT_BYTES = 5 * 1024 * 1024
MAX_TOTAL_BYTES = 30 * 1024 * 1024

# SNOMED CT codes as Synthea 3.3.0 emits them (see keep_chronic.json).
GROUPS = {
    "T2 diabetes": {"44054006"},
    "hypertension": {"59621000", "38341003"},
    "hyperlipidemia": {"55822004", "302870006"},
    "CKD": {"431855005", "431856006", "433144002", "431857002", "46177005", "127013003"},
    "asthma": {"195967001", "233678006"},
    "COPD": {"87433001", "185086009"},
}
# Other chronic disorders worth naming in the table.
OTHER_CHRONIC = {
    "414545008": "ischemic heart disease",
    "88805009": "chronic CHF",
    "49436004": "atrial fibrillation",
    "230690007": "stroke",
    "78275009": "sleep apnea",
    "69896004": "rheumatoid arthritis",
    "239873007": "osteoarthritis of knee",
    "64859006": "osteoporosis",
    "26929004": "Alzheimer's",
    "83664006": "hypothyroidism",
    "15777000": "prediabetes",
    "237602007": "metabolic syndrome",
    "271737000": "anemia",
    "40055000": "chronic sinusitis",
    "6525002": "drug abuse",
    "55680006": "drug overdose",
    "7200002": "alcoholism",
    "370143000": "major depression",
    "36923009": "major depression, single episode",
    "197480006": "anxiety",
    "124171000119105": "chronic migraine",
    "230265002": "Alzheimer's",
    "254637007": "NSCLC",
    "254632001": "SCLC",
    "363406005": "colon cancer",
    "126906006": "prostate cancer",
    "254837009": "breast cancer",
}


def age_on(birth: str, when: dt.date) -> int:
    b = dt.date.fromisoformat(birth)
    return when.year - b.year - ((when.month, when.day) < (b.month, b.day))


def codings(resource: dict, field: str = "code") -> list[dict]:
    return resource.get(field, {}).get("coding", [])


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else Path(__file__).parent / "fhir")
    files = sorted(root.glob("*.json"))
    patients = [
        f
        for f in files
        if not f.name.startswith(("hospitalInformation", "practitionerInformation"))
    ]
    problems: list[str] = []
    coverage: collections.Counter[str] = collections.Counter()
    rows = []

    for name in ("hospitalInformation", "practitionerInformation"):
        if not any(f.name.startswith(name) for f in files):
            problems.append(f"no {name}*.json")

    for f in patients:
        size = f.stat().st_size
        b = json.loads(f.read_text(encoding="utf-8"))
        if b.get("resourceType") != "Bundle" or b.get("type") != "transaction":
            problems.append(f"{f.name}: not a transaction Bundle")
            continue
        res = [e["resource"] for e in b.get("entry", [])]
        counts = collections.Counter(r["resourceType"] for r in res)
        pats = [r for r in res if r["resourceType"] == "Patient"]
        if len(pats) != 1:
            problems.append(f"{f.name}: {len(pats)} Patient resources")
            continue
        p = pats[0]
        alive = "deceasedDateTime" not in p and not p.get("deceasedBoolean", False)
        age = age_on(p["birthDate"], REFERENCE_DATE)
        hn = p["name"][0]
        pname = " ".join([*hn.get("given", []), hn.get("family", "")])

        active = {}
        present = set()
        for r in res:
            if r["resourceType"] != "Condition":
                continue
            c = codings(r)[0]
            present.add(c["code"])
            status = codings(r, "clinicalStatus")[0]["code"] if r.get("clinicalStatus") else "?"
            if status == "active":
                active[c["code"]] = c.get("display", "")
        groups = [g for g, codes in GROUPS.items() if codes & present]
        for g in groups:
            coverage[g] += 1
        others = sorted({OTHER_CHRONIC[c] for c in active if c in OTHER_CHRONIC})

        hba1c = sum(
            1
            for r in res
            if r["resourceType"] == "Observation"
            and any(c.get("code") == "4548-4" for c in codings(r))
        )
        n_medreq = counts.get("MedicationRequest", 0)
        n_active_meds = sum(
            1
            for r in res
            if r["resourceType"] == "MedicationRequest" and r.get("status") == "active"
        )
        n_allergy = counts.get("AllergyIntolerance", 0)
        if n_allergy:
            coverage["allergy"] += 1

        checks = {
            "alive": alive,
            "adult": age >= 18,
            "MedicationRequest": n_medreq > 0,
            "Immunization": counts.get("Immunization", 0) > 0,
            "DocumentReference": counts.get("DocumentReference", 0) > 0,
            "HbA1c for diabetic": ("T2 diabetes" not in groups) or hba1c > 0,
            "size < 5 MB": size < MAX_PATIENT_BYTES,
            "chronic condition": bool(groups),
        }
        for what, ok in checks.items():
            if not ok:
                problems.append(f"{f.name}: check failed: {what}")

        rows.append(
            (
                f.name,
                pname,
                age,
                p.get("gender", "?"),
                ", ".join(groups + others),
                n_medreq,
                n_active_meds,
                hba1c,
                n_allergy,
                sum(counts.values()),
                size,
            )
        )

    total = sum(f.stat().st_size for f in files)
    need = {"T2 diabetes": 2, "hypertension": 3, "CKD": 1}
    if len(patients) < 10:
        problems.append(f"only {len(patients)} patients")
    for g, n in need.items():
        if coverage[g] < n:
            problems.append(f"coverage: {coverage[g]} x {g}, want >= {n}")
    if coverage["asthma"] + coverage["COPD"] < 1:
        problems.append("coverage: nobody with asthma or COPD")
    if total > MAX_TOTAL_BYTES:
        problems.append(f"total size {total} > {MAX_TOTAL_BYTES}")

    print(
        "| file | name | age | sex | chronic conditions | MedicationRequest (active) | HbA1c obs | allergies | resources | size |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| `{r[0]}` | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} ({r[6]}) | {r[7]} | {r[8]} | {r[9]} | {r[10] / 1e6:.1f} MB |"
        )
    print()
    print(f"patients: {len(patients)}; coverage: {dict(sorted(coverage.items()))}")
    print(f"total size of {root}: {total / 1e6:.1f} MB ({total} bytes) in {len(files)} files")
    if problems:
        print("PROBLEMS:")
        for p in problems:
            print("  -", p)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
