"""Peak memory of a streamed load against the bundle's size, its resources and its largest entry.

    nice -n 10 python bench/load_memory.py --bundles DIR [--pick 4] [--before REV] [--quick]

Why (issue 13, item 2): a lifetime bundle must load with memory bounded by its largest
entry plus a fixed, named amount, not by the file or its number of resources. Last
session a 203 MiB Synthea bundle (78,696 resources, largest entry 4.8 MB) peaked at
277 MiB, and the peak grew with the record.

What it does, in one run: picks ``--pick`` patient bundles of ``--bundles`` spread by
size (the smallest, the largest, and those nearest even fractions of the largest), loads
each alone with the directory's hospital and practitioner bundles into a fresh
file-backed embedded store in a child process (validation on, as ``ehr-agent load``), and
prints per bundle: file size, resources, largest entry, seconds, the child's peak RSS
(``ru_maxrss``) and SQLite's own peak heap (``sqlite3_memory_highwater``). Then the
least-squares slope of peak RSS against resources and against file size: bounded memory
shows as a slope near zero, with the peak following the largest entry.

``--before REV`` loads the same bundles with the loader of git revision REV too
(exported with ``git archive`` into ``.bench-out/``, imported first through
``PYTHONPATH``), so before and after are measured side by side in one run.
``--quick`` (CI size): the committed fixtures, the smallest and the largest patient.

The bundles: e.g. ``bench/synthea_run.py .scratch/elderly-854 --patients 35 --years 0
--ages 85-100 --seed 854`` (elderly, whole life; gives bundles of 15 to 213 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fhir_client.loading.sources import file_entries  # noqa: E402

OUT = REPO / ".bench-out"
FIXTURES = REPO / "synthea_fixtures" / "fhir"
MIB = 1024 * 1024

_CHILD = """
import asyncio, ctypes, json, resource, sys, time
from pathlib import Path
import _sqlite3
import fhir_client
from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.limits import LOAD_REQUEST_DEADLINE_SECONDS, LOAD_TIMEOUT_SECONDS
from fhir_client.loading import load_paths

sqlite = ctypes.CDLL(_sqlite3.__file__)  # the libsqlite3 the sqlite3 module uses
sqlite.sqlite3_memory_highwater.restype = ctypes.c_int64
sqlite.sqlite3_memory_highwater.argtypes = [ctypes.c_int]

async def main() -> None:
    store = EmbeddedStore(sys.argv[1])
    started = time.perf_counter()
    async with embedded_client(
        store, timeout=LOAD_TIMEOUT_SECONDS, deadline_seconds=LOAD_REQUEST_DEADLINE_SECONDS
    ) as client:
        report = await load_paths(client, [Path(p) for p in sys.argv[2:]])
    seconds = time.perf_counter() - started
    store.close()
    print(json.dumps({
        "code": str(Path(fhir_client.__file__).parents[1]),
        "seconds": seconds,
        "resources": report.resource_count,
        "failures": [str(f.error) for f in report.failures],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sqlite_peak_mib": sqlite.sqlite3_memory_highwater(0) / 2**20,
    }))

asyncio.run(main())
"""


@dataclass(frozen=True)
class Loaded:
    """One load's figures (see the module docstring)."""

    bundle: Path
    file_mib: float
    patient_resources: int
    largest_entry_mb: float
    seconds: float
    resources: int
    peak_rss_mib: float
    sqlite_peak_mib: float


def largest_entry_bytes(path: Path) -> int:
    """The largest entry of a bundle as compact JSON (streamed, never the whole file)."""
    return max(len(orjson.dumps(entry)) for _, entry in file_entries(path))


def entry_count(path: Path) -> int:
    return sum(1 for _ in file_entries(path))


def pick_bundles(directory: Path, count: int) -> tuple[list[Path], list[Path]]:
    """(reference bundles, ``count`` patient bundles spread by size, smallest first)."""
    files = sorted(directory.glob("*.json"))
    reference = [p for p in files if "Information" in p.name]
    patients = sorted((p for p in files if "Information" not in p.name), key=_size)
    if len(patients) <= count:
        return reference, patients
    largest = _size(patients[-1])
    chosen: list[Path] = [patients[0]]
    for step in range(1, count - 1):
        goal = largest * step / (count - 1)
        rest = [p for p in patients if p not in chosen]
        chosen.append(min(rest, key=lambda p: abs(_size(p) - goal)))
    chosen.append(patients[-1])
    return reference, sorted(set(chosen), key=_size)


def _size(path: Path) -> int:
    return path.stat().st_size


def export_revision(revision: str) -> Path:
    """The tree of ``revision`` under ``.bench-out/`` (``git archive``; cached)."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", f"{revision}^{{commit}}"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    target = OUT / f"tree-{commit[:12]}"
    if not (target / "fhir_client").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = target.with_suffix(".tar")
        subprocess.run(
            ["git", "-C", str(REPO), "archive", "-o", str(archive), commit, "fhir_client"],
            check=True,
        )
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
        archive.unlink()
    return target


def load_in_child(code: Path, reference: list[Path], bundle: Path) -> dict[str, object]:
    """Load in a fresh interpreter importing the loader from ``code``; its figures."""
    db = OUT / "load-memory.sqlite"
    for stale in OUT.glob(db.name + "*"):
        stale.unlink()
    paths = [str(p.resolve()) for p in (*reference, bundle)]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(db), *paths],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(code)},
        cwd=code,  # "-c" puts the working directory first on sys.path
    )
    if done.returncode:
        raise SystemExit(f"the loading child failed:\n{done.stderr[-4000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    for stale in OUT.glob(db.name + "*"):
        stale.unlink()
    if result["code"] != str(code):
        raise SystemExit(f"the child imported the loader from {result['code']}, not {code}")
    if result["failures"]:
        raise SystemExit(f"load failed: {result['failures']}")
    return result


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys against xs."""
    if len(xs) < 2 or len(set(xs)) < 2:
        return float("nan")
    return statistics.linear_regression(xs, ys).slope


def measure(code: Path, reference: list[Path], bundles: list[Path]) -> list[Loaded]:
    rows = []
    for bundle in bundles:
        got = load_in_child(code, reference, bundle)
        row = Loaded(
            bundle=bundle,
            file_mib=_size(bundle) / MIB,
            patient_resources=entry_count(bundle),
            largest_entry_mb=largest_entry_bytes(bundle) / 1e6,
            seconds=float(str(got["seconds"])),
            resources=int(str(got["resources"])),
            peak_rss_mib=float(str(got["peak_rss_mib"])),
            sqlite_peak_mib=float(str(got["sqlite_peak_mib"])),
        )
        print(
            f"  {row.bundle.name[:34]:34} {row.file_mib:7.1f} {row.patient_resources:9,}"
            f" {row.largest_entry_mb:9.2f} {row.seconds:7.0f} {row.peak_rss_mib:9.0f}"
            f" {row.sqlite_peak_mib:9.1f}",
            flush=True,
        )
        rows.append(row)
    return rows


def summarise(label: str, rows: list[Loaded]) -> None:
    resources = [r.patient_resources / 10_000 for r in rows]
    peaks = [r.peak_rss_mib for r in rows]
    print(
        f"  {label}: peak RSS {min(peaks):.0f}-{max(peaks):.0f} MiB; slope "
        f"{slope(resources, peaks):.1f} MiB per 10,000 resources, "
        f"{slope([r.file_mib for r in rows], peaks):.2f} MiB per MiB of file, "
        f"{slope([r.largest_entry_mb for r in rows], peaks):.1f} MiB per MB of largest entry"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=Path, default=None, help="a Synthea fhir/ directory")
    parser.add_argument("--pick", type=int, default=4, help="patient bundles to load")
    parser.add_argument("--before", default=None, help="also load with this git revision")
    parser.add_argument("--quick", action="store_true", help="CI size: committed fixtures")
    args = parser.parse_args(argv)
    directory = FIXTURES if args.quick or args.bundles is None else args.bundles
    reference, bundles = pick_bundles(directory, 2 if args.quick else args.pick)
    OUT.mkdir(exist_ok=True)
    trees = [("now", REPO)]
    if args.before:
        trees.insert(0, (f"before ({args.before})", export_revision(args.before)))
    results = {}
    header = (
        f"  {'bundle':34} {'MiB':>7} {'resources':>9} {'entry MB':>9} {'s':>7}"
        f" {'peak RSS':>9} {'SQLite':>9}"
    )
    for label, code in trees:
        print(f"== {label}: each bundle loaded alone (+ reference data), validation on")
        print(header)
        results[label] = measure(code, reference, bundles)
    print("== peak RSS (MiB) against the record")
    for label, rows in results.items():
        summarise(label, rows)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
