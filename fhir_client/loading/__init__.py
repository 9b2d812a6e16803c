"""Load Synthea FHIR R4 bundles into the embedded store or any FHIR server.

    async with embedded_client(store) as fhir:
        report = await load_paths(fhir, [Path("synthea_fixtures")])

Reference-data bundles (hospitals, practitioners) load first, ids are kept
as Synthea wrote them, each file is one atomic transaction, and the report
says what was loaded, what failed (file and entry) and how many conditional
references could not be resolved.
"""

from fhir_client.loading.discovery import BundleFile, BundleKind, LoadPlan, plan_load
from fhir_client.loading.errors import BundleLoadError, DanglingReferenceError
from fhir_client.loading.loader import LoadTarget, load_paths
from fhir_client.loading.report import FileLoadResult, LoadEvent, LoadReport, LoadStage

__all__ = [
    "BundleFile",
    "BundleKind",
    "BundleLoadError",
    "DanglingReferenceError",
    "FileLoadResult",
    "LoadEvent",
    "LoadPlan",
    "LoadReport",
    "LoadStage",
    "LoadTarget",
    "load_paths",
    "plan_load",
]
