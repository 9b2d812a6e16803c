"""Run Synthea (from Maven Central, as ``synthea_fixtures/generate.sh`` does) for the benches.

Why a module: the population and lifetime benches need cohorts far larger
than the committed fixtures, generated with a fixed seed into
``.bench-out/`` (never committed). Synthea is resolved through
``synthea_fixtures/pom.xml`` into Maven's cache, so the version is the one
the fixtures were made with, and every option that shapes the output is on
the command line built here.

    python bench/synthea_run.py OUT_DIR --patients 50 [--years 5] [--ages 35-80] [--seed N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POM = REPO / "synthea_fixtures" / "pom.xml"
SYNTHEA_VERSION = "3.3.0"  # must match synthea_fixtures/pom.xml
DEFAULT_SEED = 20250101
REFERENCE_DATE = "20250101"


@dataclass(frozen=True)
class Cohort:
    """What to generate: Synthea's population options that the benches vary."""

    patients: int
    years_of_history: int = 5  # 0 keeps the whole life (Synthea's own meaning)
    ages: str = "0-100"
    seed: int = DEFAULT_SEED
    threads: int = 1


def synthea_classpath(work: Path) -> str:
    """Resolve Synthea and its runtime dependencies into ~/.m2; return the classpath."""
    mvn = shutil.which("mvn")
    java = shutil.which("java")
    if mvn is None or java is None:
        raise SystemExit("Synthea needs Java 17+ and Maven ('java' and 'mvn' on PATH).")
    work.mkdir(parents=True, exist_ok=True)
    target = work / "classpath.txt"
    subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "-C",
            "-f",
            str(POM),
            f"-Dsynthea.version={SYNTHEA_VERSION}",
            "dependency:build-classpath",
            "-Dmdep.includeScope=runtime",
            f"-Dmdep.outputFile={target}",
        ],
        check=True,
    )
    return target.read_text().strip()


def generate(cohort: Cohort, out: Path, *, log: Path | None = None) -> Path:
    """Run Synthea for ``cohort`` into ``out``; return the directory of FHIR bundles.

    Reuses an earlier run with the same options (a marker file records them),
    since 1,000 patients take a long time on a shared machine.
    """
    out = out.resolve()  # Maven resolves relative paths against the pom's folder
    fhir = out / "fhir"
    marker = out / "cohort.txt"
    if marker.is_file() and marker.read_text() == repr(cohort) and any(fhir.glob("*.json")):
        return fhir
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    classpath = synthea_classpath(out)
    command = [
        "java",
        "-Xmx3g",
        "-cp",
        classpath,
        "App",
        "-s",
        str(cohort.seed),
        "-cs",
        str(cohort.seed),
        "-r",
        REFERENCE_DATE,
        "-e",
        REFERENCE_DATE,
        "-p",
        str(cohort.patients),
        "-a",
        cohort.ages,
        f"--exporter.baseDirectory={out}/",
        "--exporter.fhir.export=true",
        "--exporter.fhir.transaction_bundle=true",
        "--exporter.fhir.bulk_data=false",
        "--exporter.fhir.use_us_core_ig=true",
        "--exporter.hospital.fhir.export=true",
        "--exporter.practitioner.fhir.export=true",
        "--exporter.csv.export=false",
        "--exporter.ccda.export=false",
        "--exporter.text.export=false",
        "--exporter.metadata.export=false",
        f"--exporter.years_of_history={cohort.years_of_history}",
        "--exporter.pretty_print=false",
        "--generate.only_alive_patients=true",
        f"--generate.thread_pool_size={cohort.threads}",
        "Massachusetts",
    ]
    started = time.perf_counter()
    with (log or out / "synthea.log").open("w") as sink:
        subprocess.run(command, check=True, stdout=sink, stderr=subprocess.STDOUT, cwd=out)
    marker.write_text(repr(cohort))
    (out / "seconds.txt").write_text(f"{time.perf_counter() - started:.1f}\n")
    return fhir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--ages", default="0-100")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    cohort = Cohort(args.patients, args.years, args.ages, args.seed, args.threads)
    fhir = generate(cohort, args.out)
    print(f"{sum(1 for _ in fhir.glob('*.json'))} bundles in {fhir}", file=sys.stderr)
    os.sync()


if __name__ == "__main__":
    main()
