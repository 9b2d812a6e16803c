"""The referee's own words: lab codes, drug classes, brand names, lay terms.

Written for the free-form replay independently of ``tools.vocabulary`` and of whatever
the agent resolves concepts with: a referee that shared the agent's vocabulary would
only check the agent against itself.  Sources: LOINC codes as Synthea writes them
(checked against the fixtures and the vendored external sets), drug classes and brand
names from the ingredient lists of the WHO ATC classes they name (B01A antithrombotics,
C10AA statins, A10A insulins, C02-C09 antihypertensives, N02A opioids), cut to the
ingredients Synthea prescribes and the commonest others.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BRANDS",
    "DRUG_CLASSES",
    "MEASURES",
    "DrugClass",
    "Measure",
    "measure",
]


@dataclass(frozen=True)
class Measure:
    """A lab or vital the free-form questions ask about.

    ``name`` is how an answer or a clinician names it; ``lay`` are words a patient or a
    hurried clinician uses instead; ``abbreviations`` ward shorthand.  ``components``
    are the systolic/diastolic codes of the blood pressure panel.
    """

    key: str
    name: str
    codes: frozenset[str]
    lay: tuple[str, ...] = ()
    abbreviations: tuple[str, ...] = ()
    components: tuple[str, ...] = ()


def _m(
    key: str,
    name: str,
    codes: str,
    lay: str = "",
    abbreviations: str = "",
    components: str = "",
) -> Measure:
    def split(text: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in text.split(";") if part.strip())

    return Measure(
        key, name, frozenset(codes.split()), split(lay), split(abbreviations), split(components)
    )


MEASURES: tuple[Measure, ...] = (
    _m("hba1c", "HbA1c", "4548-4", "sugar control; average blood sugar", "A1c; HbA1c; a1c"),
    _m("ldl", "LDL cholesterol", "18262-6", "bad cholesterol", "LDL; LDL-C"),
    _m("hdl", "HDL cholesterol", "2085-9", "good cholesterol", "HDL"),
    _m("chol", "total cholesterol", "2093-3", "cholesterol", "TC; chol"),
    _m("tg", "triglycerides", "2571-8", "blood fats", "TG; trigs"),
    _m("egfr", "eGFR", "33914-3", "kidney function", "eGFR; GFR"),
    _m("creat", "creatinine", "2160-0 38483-4", "", "Cr; creat"),
    _m("glucose", "glucose", "2339-0 2345-7", "blood sugar; sugar level", "BG; BSL"),
    _m("hgb", "hemoglobin", "718-7", "", "Hgb; Hb"),
    _m("potassium", "potassium", "6298-4 2823-3", "", "K; K+"),
    _m("sodium", "sodium", "2947-0 2951-2", "salt level", "Na"),
    _m(
        "bp",
        "blood pressure",
        "85354-9",
        "pressure",
        "BP",
        "8480-6 8462-4",
    ),
    _m("weight", "body weight", "29463-7", "how much does {pronoun} weigh", "wt"),
    _m("height", "body height", "8302-2", "how tall is {pronoun}", "ht"),
    _m("bmi", "BMI", "39156-5", "body mass index", "BMI"),
    _m("hr", "heart rate", "8867-4", "pulse", "HR"),
    _m("rr", "respiratory rate", "9279-1", "breathing rate", "RR; resp rate"),
    _m("temp", "body temperature", "8310-5", "", "temp"),
    _m("spo2", "oxygen saturation", "2708-6 59408-5", "oxygen level", "sats; SpO2; O2 sat"),
    _m("cd4", "CD4 count", "24467-3", "", "CD4"),
    _m("vl", "HIV viral load", "20447-9 25836-8", "viral load", "VL"),
)


def measure(key: str) -> Measure:
    return next(m for m in MEASURES if m.key == key)


@dataclass(frozen=True)
class DrugClass:
    """A drug class as clinicians say it, and the ingredients that belong to it."""

    key: str
    phrases: tuple[str, ...]
    ingredients: tuple[str, ...]


DRUG_CLASSES: tuple[DrugClass, ...] = (
    DrugClass(
        "blood_thinner",
        ("blood thinners", "anticoagulation or antiplatelets", "blood thinner"),
        (
            "warfarin",
            "heparin",
            "enoxaparin",
            "apixaban",
            "rivaroxaban",
            "dabigatran",
            "edoxaban",
            "clopidogrel",
            "prasugrel",
            "ticagrelor",
            "aspirin",
        ),
    ),
    DrugClass(
        "statin",
        ("a statin", "any statins", "statin therapy"),
        ("simvastatin", "atorvastatin", "rosuvastatin", "pravastatin", "lovastatin"),
    ),
    DrugClass("insulin", ("insulin", "any insulin"), ("insulin",)),
    DrugClass(
        "bp_meds",
        ("BP meds", "blood pressure medication", "antihypertensives"),
        (
            "lisinopril",
            "hydrochlorothiazide",
            "amlodipine",
            "metoprolol",
            "losartan",
            "atenolol",
            "valsartan",
            "chlorthalidone",
            "verapamil",
            "captopril",
            "enalapril",
            "nifedipine",
            "carvedilol",
        ),
    ),
    DrugClass(
        "opioid",
        ("opioids", "narcotics", "opioid painkillers"),
        (
            "oxycodone",
            "hydrocodone",
            "fentanyl",
            "morphine",
            "tramadol",
            "codeine",
            "meperidine",
            "hydromorphone",
            "buprenorphine",
            "methadone",
        ),
    ),
)

# Brand -> the ingredient the order names.
BRANDS: dict[str, str] = {
    "Plavix": "clopidogrel",
    "Zocor": "simvastatin",
    "Lipitor": "atorvastatin",
    "Norvasc": "amlodipine",
    "Zestril": "lisinopril",
    "Glucophage": "metformin",
    "Lopressor": "metoprolol",
    "Coumadin": "warfarin",
    "Eliquis": "apixaban",
    "Xarelto": "rivaroxaban",
    "Prozac": "fluoxetine",
    "Ventolin": "albuterol",
    "Lasix": "furosemide",
    "Tylenol": "acetaminophen",
    "Advil": "ibuprofen",
    "Pulmicort": "budesonide",
    "Prograf": "tacrolimus",
    "Lanoxin": "digoxin",
}
