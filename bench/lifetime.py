"""Lifetime records: load elderly patients' full histories in bounded memory; list fast.

    python bench/lifetime.py [--patients 12] [--minutes 15] [--out .bench-out/lifetime]

Why (issue 13): real charts keep everything. Synthea's elderly with full history
write single bundles of 80 to 180 MB; parsed whole, one took over 2 GB, and
``ehr-agent patients`` ran ``$everything`` per patient (19 s, 458 MB on 20 such
records). The loader now streams a bundle entry by entry and the listing reads
the store's index.

What it does, all in one run:
1. Generates (once, cached in ``--out``, never committed) elderly patients with
   their whole history with Synthea from Maven Central, the way
   ``synthea_fixtures/generate.sh`` gets it (fixed seeds, under ``nice``), adding
   batches with the next seed until one bundle is over 150 MB or ``--minutes``
   have passed.
2. Loads the cohort into a fresh embedded store in a child process and prints
   its peak RSS, and the same for the largest bundle alone (memory should follow
   the largest entry, not the file).
3. Times the patient list: ``patient_page`` in process (median of 20) and the
   ``ehr-agent patients`` command (median of 3, process start included).

Targets (printed, not asserted): listing under 0.3 s on this cohort; the load's
peak RSS far below the largest bundle's size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

POM = REPO / "synthea_fixtures" / "pom.xml"
SYNTHEA_VERSION = "3.3.0"  # as synthea_fixtures/pom.xml and generate.sh
FIRST_SEED = 20251301
BIG_BUNDLE_BYTES = 150 * 1024 * 1024
LIST_TARGET_SECONDS = 0.3
MIB = 1024 * 1024


def _classpath(work: Path) -> str:
    target = work / "classpath.txt"
    if not target.exists():
        subprocess.run(
            ["mvn", "-B", "-q", "-C", "-f", str(POM), f"-Dsynthea.version={SYNTHEA_VERSION}",
             "dependency:build-classpath", "-Dmdep.includeScope=runtime",
             f"-Dmdep.outputFile={target}"],
            check=True,
        )  # fmt: skip
    return target.read_text().strip()


def _generate_batch(work: Path, seed: int, patients: int) -> Path:
    out = work / f"seed-{seed}"
    if (out / "fhir").is_dir() and any((out / "fhir").glob("*.json")):
        return out / "fhir"
    print(f"  generating {patients} elderly patients, full history, seed {seed} ...", flush=True)
    command = [
        "nice", "-n", "10", "java", "-Xmx3g", "-cp", _classpath(work), "App",
        "-s", str(seed), "-cs", str(seed), "-r", "20250101", "-e", "20250101",
        "-p", str(patients), "-a", "80-99",
        f"--exporter.baseDirectory={out}/",
        "--exporter.fhir.export=true", "--exporter.fhir.transaction_bundle=true",
        "--exporter.hospital.fhir.export=true", "--exporter.practitioner.fhir.export=true",
        "--exporter.years_of_history=0",  # 0: the whole life, nothing dropped
        "--exporter.csv.export=false", "--exporter.text.export=false",
        "--exporter.metadata.export=false", "--generate.only_alive_patients=true",
        "--generate.thread_pool_size=1", "Massachusetts", "Worcester",
    ]  # fmt: skip
    with (work / f"synthea-{seed}.log").open("w") as log:
        subprocess.run(command, check=True, stdout=log, stderr=subprocess.STDOUT)
    return out / "fhir"


def generate(work: Path, patients: int, minutes: float) -> list[Path]:
    """Synthea batches until one bundle passes 150 MB or the time is up."""
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    batches: list[Path] = []
    seed = FIRST_SEED
    while True:
        batches.append(_generate_batch(work, seed, patients))
        if _largest(batches)[1] > BIG_BUNDLE_BYTES:
            break
        if time.monotonic() - started > minutes * 60:
            print(f"  no bundle over 150 MB within {minutes:.0f} min; using what was made")
            break
        seed += 1
    return batches


def _bundles(batches: list[Path]) -> list[Path]:
    return sorted(p for batch in batches for p in batch.glob("*.json"))


def _largest(batches: list[Path]) -> tuple[Path, int]:
    patients = [p for p in _bundles(batches) if "Information" not in p.name]
    biggest = max(patients, key=lambda p: p.stat().st_size)
    return biggest, biggest.stat().st_size


_LOAD_CHILD = """
import asyncio, json, resource, sys, time
from pathlib import Path
from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.limits import LOAD_REQUEST_DEADLINE_SECONDS, LOAD_TIMEOUT_SECONDS
from fhir_client.loading import load_paths

async def main() -> None:
    store = EmbeddedStore(sys.argv[1])
    started = time.perf_counter()
    async with embedded_client(
        store, timeout=LOAD_TIMEOUT_SECONDS, deadline_seconds=LOAD_REQUEST_DEADLINE_SECONDS
    ) as client:
        report = await load_paths(client, [Path(p) for p in sys.argv[2:]])
    # Resident memory at the end, split: anonymous (the heap, SQLite's page cache) and
    # file-backed (shared libraries and the store's memory map: pages the kernel can drop).
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    rss = {key: int(status[key].split()[0]) / 1024 for key in ("RssAnon", "RssFile")}
    store.close()
    print(json.dumps({
        "seconds": time.perf_counter() - started,
        "resources": report.resource_count,
        "patients": report.patient_count,
        "failures": [str(f.error) for f in report.failures],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "end_rss_anon_mib": rss["RssAnon"],
        "end_rss_file_mib": rss["RssFile"],
    }))

asyncio.run(main())
"""


def load_in_child(db: Path, paths: list[Path]) -> dict[str, object]:
    """Load in a fresh interpreter so its peak RSS is the load's alone."""
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_CHILD, str(db), *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def time_listing(db: Path) -> tuple[float, float, int]:
    """(median in-process patient_page seconds, median CLI seconds, patients listed)."""
    from fhir_client.directory import patient_page
    from fhir_client.embedded import EmbeddedStore, embedded_client

    async def one_page() -> int:
        store = EmbeddedStore(db)
        try:
            async with embedded_client(store) as client:
                page = await patient_page(client, count=50)
                return len(page.entries)
        finally:
            store.close()

    asyncio.run(one_page())  # warm the page cache once
    page_times: list[float] = []
    listed = 0
    for _ in range(20):
        started = time.perf_counter()
        listed = asyncio.run(one_page())
        page_times.append(time.perf_counter() - started)
    cli_times = []
    env = {**os.environ, "EHR_AGENT_DB": str(db), "PYTHONPATH": str(REPO)}
    env.pop("EHR_AGENT_FHIR_URL", None)
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "agent.cli", "patients"],
            check=True, env=env, capture_output=True,
        )  # fmt: skip
        cli_times.append(time.perf_counter() - started)
    return statistics.median(page_times), statistics.median(cli_times), listed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=12, help="patients per Synthea batch")
    parser.add_argument("--minutes", type=float, default=15.0, help="generation time budget")
    parser.add_argument("--out", type=Path, default=REPO / ".bench-out" / "lifetime")
    args = parser.parse_args()

    print("== Synthea lifetime cohort (elderly, full history)")
    batches = generate(args.out, args.patients, args.minutes)
    bundles = _bundles(batches)
    biggest, biggest_bytes = _largest(batches)
    total = sum(p.stat().st_size for p in bundles)
    print(
        f"  {len(bundles)} files, {total / MIB:.0f} MB; largest bundle {biggest_bytes / MIB:.0f} MB"
    )

    print("== load, streamed, in a child process")
    for label, paths, db in (
        ("largest bundle alone", [*_reference_files(batches), biggest], args.out / "big.sqlite"),
        ("whole cohort", bundles, args.out / "cohort.sqlite"),
    ):
        for stale in db.parent.glob(db.name + "*"):
            stale.unlink()
        got = load_in_child(db, paths)
        seconds, resources = float(str(got["seconds"])), int(str(got["resources"]))
        failures = f", FAILED: {got['failures']}" if got["failures"] else ""
        print(
            f"  {label:22} {resources} resources in {seconds:.1f} s "
            f"({resources / seconds:.0f}/s), peak RSS "
            f"{float(str(got['peak_rss_mib'])):.0f} MiB{failures}"
        )

    print("== patients listing on the cohort store")
    page, cli, listed = time_listing(args.out / "cohort.sqlite")
    verdict = "meets" if page < LIST_TARGET_SECONDS else "MISSES"
    print(f"  patient_page (50 per page, counts by type): median {page * 1000:.1f} ms "
          f"for {listed} patients ({verdict} the {LIST_TARGET_SECONDS} s target)")  # fmt: skip
    print(f"  `ehr-agent patients` command, process start included: median {cli:.2f} s")


def _reference_files(batches: list[Path]) -> list[Path]:
    return [p for p in _bundles(batches) if "Information" in p.name][:2]


if __name__ == "__main__":
    main()
