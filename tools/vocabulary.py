"""Clinician names for observations and vaccines, mapped to the codes FHIR servers store.

A model asks for "A1c" or "haemoglobin A1c"; the record holds LOINC 4548-4.  This table is
the bridge, so a search by code finds every result instead of hoping the model guesses a
code.  Codes were checked against real Synthea output (our fixtures and the two sets in
``/work/shared/synthea-external``): where Synthea uses two codes for one test (creatinine in
blood 38483-4 and in serum 2160-0, glucose 2339-0 and 2345-7, ...), both are listed.  Names
not in the table fall back to matching ``code.text`` / ``coding.display`` (see
``tools.toolset``), which is how a lab under a local code system is still found.

Each concept also carries a short ``label`` ("HbA1c", "LDL"): evidence lines use it instead of
the long LOINC display to save tokens.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "LOINC",
    "OBSERVATION_CONCEPTS",
    "VACCINE_GROUPS",
    "ObservationConcept",
    "VaccineGroup",
    "find_observation_concept",
    "find_vaccine_group",
    "label_for_code",
    "normalize_name",
    "vaccine_group_for_code",
    "vital_sign_names",
]

LOINC = "http://loinc.org"
CVX = "http://hl7.org/fhir/sid/cvx"

Kind = Literal["lab", "vital", "survey"]


@dataclass(frozen=True)
class ObservationConcept:
    """One thing a clinician measures, with every LOINC code that records it."""

    label: str
    codes: tuple[str, ...]
    names: tuple[str, ...]
    kind: Kind = "lab"


@dataclass(frozen=True)
class VaccineGroup:
    """A vaccine family ("influenza") and its CVX codes."""

    label: str
    cvx_codes: tuple[str, ...]
    names: tuple[str, ...]


def _c(label: str, codes: str, names: str, kind: Kind = "lab") -> ObservationConcept:
    return ObservationConcept(
        label=label,
        codes=tuple(codes.split()),
        names=tuple(n.strip() for n in names.split(";") if n.strip()),
        kind=kind,
    )


OBSERVATION_CONCEPTS: tuple[ObservationConcept, ...] = (
    # Vital signs (the blood pressure panel carries systolic 8480-6 / diastolic 8462-4).
    _c(
        "BP",
        "85354-9 55284-4",
        "blood pressure; bp; systolic; diastolic; systolic blood pressure; "
        "diastolic blood pressure; systolic bp; diastolic bp",
        "vital",
    ),
    _c("BMI", "39156-5", "bmi; body mass index", "vital"),
    _c("Weight", "29463-7 3141-9", "weight; body weight; wt", "vital"),
    _c("Height", "8302-2 8306-3", "height; body height; length; ht", "vital"),
    _c("HR", "8867-4", "heart rate; pulse; pulse rate; hr", "vital"),
    _c("RR", "9279-1", "respiratory rate; respiration rate; breathing rate; rr", "vital"),
    _c("Temp", "8310-5 8331-1", "temperature; body temperature; temp", "vital"),
    _c(
        "SpO2",
        "2708-6 59408-5",
        "oxygen saturation; o2 sat; spo2; sao2; pulse oximetry; oxygen sat; pulse ox; o2 sats",
        "vital",
    ),
    _c("Pain", "72514-3", "pain; pain score; pain severity", "vital"),
    # Diabetes and lipids.
    _c(
        "HbA1c",
        "4548-4 17856-6",
        "a1c; hba1c; hb a1c; hemoglobin a1c; glycated hemoglobin; glycosylated hemoglobin",
    ),
    _c("Glucose", "2339-0 2345-7 41653-7", "glucose; blood glucose; blood sugar; fasting glucose"),
    _c(
        "LDL",
        "18262-6 13457-7 2089-1",
        "ldl; ldl cholesterol; ldl c; low density lipoprotein; bad cholesterol",
    ),
    _c("HDL", "2085-9", "hdl; hdl cholesterol; hdl c; high density lipoprotein"),
    _c("Total chol", "2093-3", "total cholesterol; cholesterol; chol"),
    _c("TG", "2571-8", "triglycerides; triglyceride; tg; trigs"),
    # Kidney.
    _c(
        "eGFR",
        "33914-3 62238-1 98979-8 48642-3 48643-1 69405-9 50044-7",
        "egfr; gfr; glomerular filtration rate; estimated gfr",
    ),
    _c("Creatinine", "38483-4 2160-0", "creatinine; cr; creat; serum creatinine"),
    _c("BUN", "6299-2 3094-0", "bun; urea nitrogen; blood urea nitrogen; urea"),
    _c(
        "UACR",
        "9318-7 14959-1",
        "uacr; urine albumin creatinine ratio; albumin creatinine ratio; acr; "
        "microalbumin creatinine ratio; microalbumin; urine microalbumin",
    ),
    # Electrolytes and chemistry.
    _c("Na", "2947-0 2951-2", "sodium; na"),
    _c("K", "6298-4 2823-3", "potassium; k"),
    _c("Cl", "2069-3 2075-0", "chloride; cl"),
    _c("CO2", "20565-8 2028-9", "co2; carbon dioxide; bicarbonate; hco3; total co2"),
    _c("Ca", "49765-1 17861-6", "calcium; ca"),
    _c("Mg", "19123-9 21377-7", "magnesium; mg"),
    _c("Albumin", "1751-7", "albumin; serum albumin"),
    _c("Protein", "2885-2", "total protein; protein"),
    _c("Bilirubin", "1975-2", "bilirubin; total bilirubin; tbili"),
    _c("ALT", "1742-6", "alt; alanine aminotransferase; sgpt"),
    _c("AST", "1920-8", "ast; aspartate aminotransferase; sgot"),
    _c("ALP", "6768-6", "alp; alkaline phosphatase; alk phos"),
    # Blood count.
    _c("Hb", "718-7", "hemoglobin; hgb; hb"),
    _c("Hct", "4544-3 20570-8", "hematocrit; hct"),
    _c("WBC", "6690-2", "wbc; white blood cells; white cell count; leukocytes"),
    _c("RBC", "789-8", "rbc; red blood cells; erythrocytes"),
    _c("Plt", "777-3", "platelets; platelet count; plt"),
    _c("MCV", "787-2", "mcv; mean corpuscular volume"),
    # Others seen in Synthea.
    _c("INR", "6301-6", "inr"),
    _c("PT", "5902-2", "pt; prothrombin time"),
    _c("Ferritin", "2276-4", "ferritin"),
    _c("CRP", "1988-5", "crp; c reactive protein"),
    _c("Troponin I", "89579-7", "troponin; troponin i; hs troponin"),
    _c("NT-proBNP", "33762-6 71425-3", "nt probnp; ntprobnp; bnp; natriuretic peptide"),
    _c("TSH", "3016-3", "tsh; thyroid stimulating hormone"),
    _c("LVEF", "10230-1", "ejection fraction; lvef; ef"),
    # HIV care (Synthea's HIV module under a local code system is found by text fallback).
    _c("CD4", "24467-3 8128-0", "cd4; cd4 count"),
    _c("HIV VL", "20447-9 25836-8", "viral load; hiv viral load; hiv rna"),
    # Questionnaires and social history.
    _c("PHQ-2", "55758-7", "phq2; phq 2", "survey"),
    _c("PHQ-9", "44261-6", "phq9; phq 9; depression score", "survey"),
    _c("GAD-7", "70274-6", "gad7; gad 7; anxiety score", "survey"),
    # AUDIT-C's total score is how Synthea (and US Core's screening profiles) record
    # alcohol use: "does he drink?" is answered by it, found by code.
    _c(
        "AUDIT-C",
        "75626-2",
        "audit c; alcohol screening; alcohol; alcohol use; alcohol consumption; alcohol intake",
        "survey",
    ),
    _c("Smoking status", "72166-2", "smoking; smoking status; tobacco; tobacco use", "survey"),
)

VACCINE_GROUPS: tuple[VaccineGroup, ...] = tuple(
    VaccineGroup(label, tuple(codes.split()), tuple(n.strip() for n in names.split(";")))
    for label, codes, names in (
        (
            "Influenza",
            "140 141 150 153 155 158 161 166 168 171 185 186 197 205 88 111 135 144 149",
            "flu; influenza; flu shot; influenza vaccine",
        ),
        (
            "COVID-19",
            "207 208 210 211 212 213 217 218 219 221 228 229 230 300 301 302 309 310 311 312",
            "covid; covid 19; covid19; sars cov 2; coronavirus",
        ),
        (
            "Tetanus",
            "09 113 115 138 139 196",
            "tetanus; td; tdap; tetanus diphtheria; tetanus booster",
        ),
        (
            "Pneumococcal",
            "33 100 109 133 152 215 216",
            "pneumococcal; pneumonia; pneumovax; prevnar; pcv; ppsv23; pcv13",
        ),
        ("Zoster", "121 187 188", "zoster; shingles; shingrix"),
        ("Hepatitis B", "08 43 44 45 51 102 104 110", "hep b; hepatitis b; hepb"),
        ("Hepatitis A", "52 83 84 85 31 104", "hep a; hepatitis a; hepa"),
        ("HPV", "62 118 137 165", "hpv; human papillomavirus; gardasil"),
        ("MMR", "03 94", "mmr; measles; mumps; rubella"),
        ("Varicella", "21 94", "varicella; chickenpox"),
        ("Polio", "10 89 110 120", "polio; ipv"),
        ("DTaP", "20 106 107 110 120 146", "dtap; diphtheria; pertussis; whooping cough"),
        ("Hib", "17 46 47 48 49 50 51 120 148", "hib; haemophilus influenzae type b"),
        ("Meningococcal", "114 136 147 108 203 162 163 316", "meningococcal; mening; mcv4"),
        ("Rotavirus", "116 119 122", "rotavirus"),
    )
)

_NON_WORD = re.compile(r"[^a-z0-9]+")
# British spellings and common contractions a clinician may type.
_SPELLING = (("haemo", "hemo"), ("haema", "hema"), ("oesoph", "esoph"))


def normalize_name(name: str) -> str:
    """Lower-case, strip accents and punctuation, unify British spellings.

    "Haemoglobin A1c", "hemoglobin-a1c" and " HbA1c " all compare equal to their table
    entries after this.
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = text.lower()
    for old, new in _SPELLING:
        text = text.replace(old, new)
    return _NON_WORD.sub(" ", text).strip()


def _index_concepts() -> tuple[dict[str, ObservationConcept], dict[str, ObservationConcept]]:
    by_name: dict[str, ObservationConcept] = {}
    by_code: dict[str, ObservationConcept] = {}
    for concept in OBSERVATION_CONCEPTS:
        for name in (*concept.names, concept.label):
            by_name.setdefault(normalize_name(name), concept)
            by_name.setdefault(normalize_name(name).replace(" ", ""), concept)
        for code in concept.codes:
            by_code[code] = concept
    return by_name, by_code


_CONCEPT_BY_NAME, _CONCEPT_BY_CODE = _index_concepts()
# Component codes of the blood pressure panel get their own short labels.
_COMPONENT_LABELS = {"8480-6": "Systolic BP", "8462-4": "Diastolic BP"}


def find_observation_concept(name_or_code: str) -> ObservationConcept | None:
    """The concept for a clinician's name ("A1c") or a LOINC code ("4548-4"), if known."""
    stripped = name_or_code.strip()
    if stripped in _CONCEPT_BY_CODE:
        return _CONCEPT_BY_CODE[stripped]
    if stripped in _COMPONENT_LABELS:
        return _CONCEPT_BY_CODE["85354-9"]
    key = normalize_name(stripped)
    return _CONCEPT_BY_NAME.get(key) or _CONCEPT_BY_NAME.get(key.replace(" ", ""))


def label_for_code(code: str) -> str | None:
    """The short label of a known LOINC code, used to keep evidence lines short."""
    if code in _COMPONENT_LABELS:
        return _COMPONENT_LABELS[code]
    concept = _CONCEPT_BY_CODE.get(code)
    return concept.label if concept else None


def vital_sign_names() -> list[str]:
    """The primary names of the vital signs, for the ``vital_signs`` tool's ``enum``."""
    return [c.names[0] for c in OBSERVATION_CONCEPTS if c.kind == "vital"]


def _index_vaccines() -> dict[str, VaccineGroup]:
    index: dict[str, VaccineGroup] = {}
    for group in VACCINE_GROUPS:
        for name in (*group.names, group.label):
            index.setdefault(normalize_name(name), group)
    return index


_VACCINE_BY_NAME = _index_vaccines()


_VACCINE_BY_CODE = {code: g for g in reversed(VACCINE_GROUPS) for code in g.cvx_codes}


def vaccine_group_for_code(cvx_code: str) -> VaccineGroup | None:
    """The vaccine family of a CVX code (first listed family wins for combinations)."""
    return _VACCINE_BY_CODE.get(cvx_code)


def find_vaccine_group(name: str) -> VaccineGroup | None:
    """The vaccine family for "flu shot", "Tdap", "covid 19", ... if known."""
    key = normalize_name(name)
    if key in _VACCINE_BY_NAME:
        return _VACCINE_BY_NAME[key]
    words = key.split()
    if words and words[-1] in ("vaccine", "vaccination", "shot", "immunization"):
        return _VACCINE_BY_NAME.get(" ".join(words[:-1]))
    return None
