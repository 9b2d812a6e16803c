"""Answer time on a lifetime record: ``ask --model none`` p50 and ``summary``, with a profile.

    nice -n 10 python bench/lifetime_answers.py [--bundles DIR] [--repeat 3] [--profile]
                                                [--quick] [--store DB --patient ID]

Why: issue 13 item 2. Real charts keep everything; Synthea's elderly with full history
carry thousands of resources (bundles of 80-177 MB). The rule path is the product for
every user without a GPU, so its own time must stay small on such a record: targets
``ask --model none`` p50 < 100 ms and ``summary`` < 0.5 s.

The record: the largest patient bundle in ``--bundles`` (default: the lifetime cohort of
datalayer's ``bench/lifetime.py`` if present in ``.bench-out/lifetime``, else 3 elderly
patients, ages 75-90, whole life kept (``years_of_history=0``), generated here with
Synthea, fixed seed, into ``.bench-out/``). It is loaded with its hospital and
practitioner bundles into a fresh file-backed embedded store by the streaming loader in a
child process (validation on, as ``ehr-agent load``), whose peak RSS is printed beside
the file's size and its largest entry's; then every question runs
``--repeat`` times through the real graph (no model) and the summary ``--repeat`` times,
each with the toolset an Assistant gives a run (so the record and concept index it keeps
across questions count, as they do for ``ask`` and ``serve``; the first, uncounted run of
a question may be the one that reads the record).
``--profile`` writes pyinstrument HTML profiles of the slowest question and of the
summary to ``.bench-out/lifetime-profiles/``, to route hot spots to their owners.
``--quick`` (CI): the largest committed fixture patient, one repeat.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from lifetime import load_in_child  # noqa: E402
from synthea_run import Cohort, generate  # noqa: E402

from agent import AgentContext, ask, build_graph  # noqa: E402
from agent.assistant import Assistant  # noqa: E402
from agent.summary import patient_summary  # noqa: E402
from fhir_client import FhirClient  # noqa: E402
from fhir_client.embedded import EmbeddedStore, embedded_client  # noqa: E402
from fhir_client.loading.sources import file_entries  # noqa: E402
from tools import make_toolset  # noqa: E402

OUT = REPO / ".bench-out"
FIXTURES = REPO / "synthea_fixtures" / "fhir"
QUESTIONS = (
    "What was the most recent HbA1c?",
    "When was the last flu shot?",
    "What medications is the patient taking?",
    "Does the patient have any allergies?",
    "When was the last visit?",
    "What are the active problems?",
    "What was the latest blood pressure?",
    "Which procedures were done?",
    "Is the diabetes well controlled?",
    "How is the kidney function doing?",
    "What immunizations has the patient had?",
    "Show the weight trend.",
)
ASK_TARGET_MS = 100
SUMMARY_TARGET_S = 0.5


def lifetime_bundles(explicit: Path | None, quick: bool) -> Path:
    if quick:
        return FIXTURES
    if explicit is not None:
        return explicit
    theirs = OUT / "lifetime"
    if theirs.is_dir() and any(theirs.rglob("*.json")):
        return next(p.parent for p in theirs.rglob("*.json"))
    return generate(
        Cohort(patients=3, years_of_history=0, ages="75-90", seed=7), OUT / "lifetime-3"
    )


def largest_entry_bytes(path: Path) -> int:
    """The largest entry of a bundle, as compact JSON (streamed, never the whole file)."""
    return max(len(orjson.dumps(entry)) for _, entry in file_entries(path))


def record_files(directory: Path) -> tuple[list[Path], Path]:
    files = sorted(directory.glob("*.json"))
    patients = [p for p in files if "Information" not in p.name]
    largest = max(patients, key=lambda p: p.stat().st_size)
    return [p for p in files if "Information" in p.name], largest


CPU: dict[str, list[float]] = {}
"""CPU seconds of this process per timed item: on a shared, saturated machine the wall
time is mostly waiting for a core, and the CPU time is what an idle machine would take."""


async def timed_questions(
    assistant: Assistant, patient: str, repeat: int
) -> dict[str, list[float]]:
    """Each question through the graph, with the toolset the Assistant gives a run (so
    the record it keeps across questions is used, as ``ask`` and ``serve`` use it)."""
    graph = build_graph()
    times: dict[str, list[float]] = {}
    for question in QUESTIONS:
        for run in range(repeat + 1):  # the first run warms caches and is not counted
            context = AgentContext(toolset=assistant.toolset(patient), model=None)
            started, cpu = time.perf_counter(), time.process_time()
            output = await ask(graph, context, question)
            elapsed = (time.perf_counter() - started) * 1000
            assert output.timings.model_seconds == 0
            if run:
                times.setdefault(question, []).append(elapsed)
                CPU.setdefault(question, []).append((time.process_time() - cpu) * 1000)
    return times


async def timed_summary(assistant: Assistant, patient: str, repeat: int) -> list[float]:
    samples = []
    for run in range(repeat + 1):
        started, cpu = time.perf_counter(), time.process_time()
        await patient_summary(assistant.toolset(patient))
        if run:
            samples.append(time.perf_counter() - started)
            CPU.setdefault("summary", []).append(time.process_time() - cpu)
    return samples


async def profile(client: FhirClient, patient: str, question: str) -> None:
    from pyinstrument import Profiler

    target = OUT / "lifetime-profiles"
    target.mkdir(parents=True, exist_ok=True)
    graph = build_graph()
    for name, work in (
        (
            "ask",
            lambda: ask(
                graph, AgentContext(toolset=make_toolset(client, patient), model=None), question
            ),
        ),
        ("summary", lambda: patient_summary(make_toolset(client, patient))),
    ):
        profiler = Profiler(async_mode="enabled")
        with profiler:
            await work()
        (target / f"{name}.html").write_text(profiler.output_html())
        (target / f"{name}.txt").write_text(profiler.output_text(unicode=False, color=False))
    print(f"profiles: {target.relative_to(REPO)}/ (ask = '{question}')")


def percentile_95(samples: list[float]) -> float:
    """The 95th percentile (inclusive method: stays within the samples for small runs)."""
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


async def load_record(args: argparse.Namespace) -> tuple[Path, str]:
    """Load the lifetime record into a fresh store, print its load figures; (store, patient)."""
    directory = lifetime_bundles(args.bundles, args.quick)
    reference, largest = record_files(directory)
    store_path = OUT / "lifetime-store.sqlite"
    OUT.mkdir(exist_ok=True)
    for stale in OUT.glob(store_path.name + "*"):
        stale.unlink()
    # The streaming loader in a fresh interpreter (validation on, as `ehr-agent load`),
    # so its peak RSS is the load's alone.
    loaded = await asyncio.to_thread(load_in_child, store_path, [*reference, largest])
    if loaded["failures"]:
        raise SystemExit(f"load failed: {loaded['failures']}")
    print(
        f"== Lifetime record: {largest.name} ({largest.stat().st_size / 1e6:.0f} MB = "
        f"{largest.stat().st_size / 2**20:.0f} MiB, {loaded['resources']:,} resources with "
        f"reference data); largest entry {largest_entry_bytes(largest) / 1e6:.1f} MB"
    )
    print(
        f"streaming load, validation on: {loaded['seconds']:.0f} s, peak RSS of the loading "
        f"process {loaded['peak_rss_mib']:.0f} MiB (the file: "
        f"{largest.stat().st_size / 2**20:.0f} MiB); at the end {loaded['end_rss_anon_mib']:.0f}"
        f" MiB anonymous + {loaded['end_rss_file_mib']:.0f} MiB file-backed (libraries, the "
        "store's map)"
    )
    return store_path, largest.stem.rsplit("_", 1)[-1]


async def run(args: argparse.Namespace) -> None:
    if args.store is not None:
        # An already loaded store (measure the answers again without a 4-minute load);
        # it is opened for writing (SQLite's WAL), so pass a copy, never a shared file.
        store_path, patient = args.store, args.patient
        print(f"== Lifetime record: patient {patient} in the loaded store {store_path}")
    else:
        store_path, patient = await load_record(args)
    store = EmbeddedStore(store_path)
    try:
        async with embedded_client(store, timeout=3600) as client:
            assistant = Assistant(client, build_graph(), model="none", store=store)
            times = await timed_questions(assistant, patient, args.repeat)
            summary = await timed_summary(assistant, patient, args.repeat)
            everything = [t for samples in times.values() for t in samples]
            print(f"{'question':44}{'p50 ms':>9}{'max ms':>9}{'CPU p50 ms':>12}")
            for question, samples in sorted(
                times.items(), key=lambda kv: -statistics.median(kv[1])
            ):
                cpu = statistics.median(CPU[question])
                print(
                    f"{question:44}{statistics.median(samples):9.0f}{max(samples):9.0f}{cpu:12.0f}"
                )
            p50 = statistics.median(everything)
            ask_cpu = [t for q in QUESTIONS for t in CPU[q]]
            cpu50 = statistics.median(ask_cpu)
            print(
                f"ask --model none, all questions: p50 {p50:.0f} ms wall, {cpu50:.0f} ms CPU; "
                f"p95 {percentile_95(everything):.0f} ms wall, {percentile_95(ask_cpu):.0f} ms "
                f"CPU (target p50 < {ASK_TARGET_MS} ms: wall "
                f"{'met' if p50 < ASK_TARGET_MS else 'NOT met'}"
                f", CPU {'met' if cpu50 < ASK_TARGET_MS else 'NOT met'})"
            )
            s50, scpu = statistics.median(summary), statistics.median(CPU["summary"])
            print(
                f"summary: p50 {s50:.2f} s wall, {scpu:.2f} s CPU; p95 "
                f"{percentile_95(summary):.2f} s wall, {percentile_95(CPU['summary']):.2f} s CPU"
                f" (target p50 < {SUMMARY_TARGET_S} s:"
                f" wall {'met' if s50 < SUMMARY_TARGET_S else 'NOT met'}, CPU "
                f"{'met' if scpu < SUMMARY_TARGET_S else 'NOT met'})"
            )
            print(
                f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            )
            if args.profile:
                slowest = max(times, key=lambda q: statistics.median(times[q]))
                await profile(client, patient, slowest)
    finally:
        store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--quick", action="store_true", help="CI size: committed fixtures")
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="measure on this already loaded store (a copy: it is opened for writing) "
        "instead of loading --bundles; needs --patient",
    )
    parser.add_argument("--patient", default=None, help="the patient id in --store")
    args = parser.parse_args(argv)
    if (args.store is None) != (args.patient is None):
        parser.error("--store and --patient go together")
    if args.quick:
        args.repeat = 1
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
