"""What a load did, per file and in total, and the progress events on the way.

Kept apart from the loader so a CLI, a test or a notebook can render or
assert on a load without knowing how it was carried out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from fhir_client.loading.discovery import BundleFile, BundleKind
from fhir_client.loading.errors import BundleLoadError


@dataclass(frozen=True)
class FileLoadResult:
    """The outcome of one bundle file.

    When ``error`` is set the file's transaction was never committed: the
    server holds nothing from it, and the counts are zero.
    ``unresolved_references`` counts occurrences of conditional references
    that were kept as logical (identifier) references; ``unresolved_targets``
    lists the distinct ones, so a user can see which practitioner or
    organisation bundle is missing.
    """

    path: Path
    kind: BundleKind
    resources_by_type: dict[str, int] = field(default_factory=dict)
    unresolved_references: int = 0
    unresolved_targets: tuple[str, ...] = ()
    seconds: float = 0.0
    error: BundleLoadError | None = None

    @property
    def loaded(self) -> bool:
        return self.error is None

    @property
    def resource_count(self) -> int:
        return sum(self.resources_by_type.values())


@dataclass(frozen=True)
class LoadReport:
    """Everything one call to :func:`load_paths` did."""

    files: list[FileLoadResult]
    skipped_files: list[Path]
    elapsed_seconds: float

    @property
    def failures(self) -> list[FileLoadResult]:
        return [result for result in self.files if result.error is not None]

    @property
    def loaded_files(self) -> list[FileLoadResult]:
        return [result for result in self.files if result.error is None]

    @property
    def resources_by_type(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for result in self.files:
            totals.update(result.resources_by_type)
        return dict(sorted(totals.items()))

    @property
    def resource_count(self) -> int:
        return sum(result.resource_count for result in self.files)

    @property
    def unresolved_references(self) -> int:
        return sum(result.unresolved_references for result in self.files)

    @property
    def patient_count(self) -> int:
        return self.resources_by_type.get("Patient", 0)

    @property
    def resources_per_second(self) -> float:
        return self.resource_count / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0


class LoadStage(StrEnum):
    PLANNED = "planned"  # the files are known; totals are set
    FILE_STARTED = "file started"
    FILE_FINISHED = "file finished"  # loaded or failed: see ``result.error``


@dataclass(frozen=True)
class LoadEvent:
    """A progress notification; ``bytes_done`` lets a bar weigh big files fairly."""

    stage: LoadStage
    files_total: int
    bytes_total: int
    bytes_done: int
    file: BundleFile | None = None
    result: FileLoadResult | None = None
