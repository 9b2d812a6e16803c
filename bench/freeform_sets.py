"""The free-form sets per kind with the rule path, on the vendored patients or lifetime ones.

    nice -n 10 python bench/freeform_sets.py [--set main|heldout|fresh|both] [--lifetime N]
                                             [--bundles DIR] [--report OUT.json]

Why (issue 10): the free-form sets must hold on patients with full lifetime
histories, not only on the short fixture records.  ``--lifetime N`` generates N
patients aged 45-70 with their whole life kept (Synthea, fixed seed, under
``nice``, into ``.bench-out/freeform-lifetime``, never committed) and runs the
chosen set on them; ``--bundles DIR`` runs it on any directory of Synthea
bundles; with neither, on the fixtures and the vendored external sets (what the
slow tests assert).  Prints questions and answer-correct share per kind, then
the overall share, false absences, other-person answers and citation validity;
``--report`` writes the full replay report (every answer) as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from synthea_run import Cohort, generate  # noqa: E402

from agent.replay.answerer import AgentAnswerer  # noqa: E402
from agent.replay.bundles import records_from_bundles  # noqa: E402
from agent.replay.report import build_report  # noqa: E402
from agent.replay.runner import Checkpoint, plan_records, run_replay  # noqa: E402
from fhir_client.embedded import EmbeddedStore, embedded_client  # noqa: E402
from fhir_client.loading import load_paths  # noqa: E402

VENDORED = (
    REPO / "synthea_fixtures" / "fhir",
    REPO / "tests" / "data" / "synthea-external" / "fhir-data-pipes-hiv",
    REPO / "tests" / "data" / "synthea-external" / "spezi-mock-patients",
)
LIFETIME_OUT = REPO / ".bench-out" / "freeform-lifetime"
LIFETIME_SEED = 20251201
LIFETIME_AGES = "45-70"


async def _run_directory(directory: Path, which: str, work: Path) -> list[Any]:
    store = EmbeddedStore(":memory:")
    try:
        async with embedded_client(store, timeout=600.0) as client:
            report = await load_paths(client, [directory], validate=False)
            if report.failures:
                raise SystemExit(f"loading {directory} failed: {report.failures}")
            records = records_from_bundles(directory)
            plans = plan_records(
                records,
                templates=False,
                freeform=which in ("main", "both"),
                heldout=which in ("heldout", "both"),
                fresh_set=which == "fresh",
            )
            checkpoint = Checkpoint(work / f"{directory.name}-{which}.jsonl", "none")
            checkpoint.discard()
            return await run_replay(plans, AgentAnswerer(client, None), checkpoint)
    finally:
        store.close()


def _print(report: dict[str, Any], seconds: float) -> None:
    print(f"{'kind':<16}{'questions':>10}{'correct':>9}")
    for kind, stats in report["by_category"].items():
        print(f"{kind:<16}{stats['questions']:>10}{stats['answer_correct']:>9.3f}")
    overall = report["overall"]
    print(
        f"overall {overall['answer_correct']:.3f} of {overall['questions']}; "
        f"false absence {overall['false_absence']}; other person {overall['different_person']}; "
        f"citation validity {overall['citation_validity']}; errors {overall['errors']}; "
        f"{seconds:.0f} s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--set", dest="which", choices=("main", "heldout", "fresh", "both"), default="both"
    )
    parser.add_argument("--lifetime", type=int, default=0, help="generate N lifetime patients")
    parser.add_argument("--bundles", type=Path, action="append", default=[])
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    directories = list(args.bundles)
    if args.lifetime:
        cohort = Cohort(args.lifetime, years_of_history=0, ages=LIFETIME_AGES, seed=LIFETIME_SEED)
        directories.append(generate(cohort, LIFETIME_OUT))
    if not directories:
        directories = list(VENDORED)
    work = REPO / ".bench-out" / "freeform-checkpoints"
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results: list[Any] = []
    for directory in directories:
        results += asyncio.run(_run_directory(directory, args.which, work))
    report = build_report(results, {"model": "none", "set": args.which})
    _print(report, time.perf_counter() - started)
    if args.report:
        args.report.write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
