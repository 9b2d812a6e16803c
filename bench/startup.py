"""How long the CLI takes to start, against ``python -c pass`` measured in the same run.

    python bench/startup.py [--runs 7] [--python .venv/bin/python [--python OTHER]]

Why: a command line that needs two seconds before it prints ``--help`` feels broken, and
every command paid for LangGraph, langchain-core and langsmith whether it used them or
not.  Targets (issue 12): ``ehr-agent --help`` and ``ehr-agent patients`` on a small
store within +0.3 s of a bare interpreter, ``ask --model none`` within +1.0 s, end to end
(process start to exit).  The store holds the smallest fixture patient, loaded once into
a temporary directory.  CPU time (user + system) is printed beside the wall time: on a
shared, loaded machine the wall time is mostly waiting for the disk, the CPU time is
what the command itself costs.  Under each command, the same figures for importing only
the third-party libraries it needs (:data:`FLOORS`): the floor our own code cannot go
under.  ``--python`` picks the environment; given twice (another checkout's venv), the
two are measured interleaved, run by run: a before/after comparison in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "synthea_fixtures" / "fhir"
TARGETS = {"--help": 0.3, "patients": 0.3, "ask --model none": 1.0}
"""Allowed wall time above ``python -c pass``, in seconds."""
FLOORS = {
    "--help": "import typer",
    "patients": "import typer, typer._adapters, rich.table, sqlite3",
    "ask --model none": "import typer, typer._adapters, rich.table, httpx, "
    "starlette.applications, langgraph.graph, langgraph.checkpoint.sqlite.aio, "
    "snowballstemmer, rapidfuzz",
}
"""The third-party libraries each command cannot run without, imported and nothing else:
what the command would cost if our own code took no time.  Typer builds a pydantic
``TypeAdapter`` per parameter when a command runs (``typer._adapters``, pydantic with
it).  ``patients`` reads the embedded store and writes its audit row with the standard
library's ``sqlite3`` (no SQLAlchemy, SQLModel, httpx or Starlette), without an event
loop (no asyncio) and without building the search parameter registry.  ``ask`` reaches the
store through the in-process FHIR facade (httpx, Starlette) and answers with a LangGraph
graph checkpointed in SQLite; ``langgraph.graph`` pulls langchain-core, langsmith and
langgraph-sdk unconditionally (``langchain_core.tracers.schemas`` imports
``langsmith.RunTree`` at module level, ``langgraph.runtime`` imports
``langgraph_sdk.auth.types``, whose package imports its whole client; no setting defers
them).  The concept index stems and fuzzy-matches (snowballstemmer, rapidfuzz)."""


def _smallest_patient_bundle() -> Path:
    bundles = [p for p in FIXTURES.glob("*.json") if "Information" not in p.name]
    return min(bundles, key=lambda p: p.stat().st_size)


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    # cwd: the scratch directory, so ``-m agent.cli`` imports the environment's install,
    # never a checkout that happens to be the current directory.
    subprocess.run(
        command,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=env["XDG_DATA_HOME"],
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _medians(
    commands: list[list[str]], env: dict[str, str], runs: int
) -> list[tuple[float, float]]:
    """Median wall and median CPU seconds of each command over ``runs`` (after one warm-up
    run each), the commands' runs interleaved so that a change in the machine's load
    falls on all of them alike."""
    for command in commands:
        _run(command, env)  # warm the page cache and any bytecode
    samples: list[list[tuple[float, float]]] = [[] for _ in commands]
    for _ in range(runs):
        for command, taken in zip(commands, samples, strict=True):
            taken.append(_run(command, env))
    return [
        (statistics.median(w for w, _ in taken), statistics.median(c for _, c in taken))
        for taken in samples
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--python",
        action="append",
        help="the environment's python; repeat it to compare environments, interleaved",
    )
    args = parser.parse_args()
    pythons = [str(Path(p).absolute()) for p in (args.python or [sys.executable])]
    clis = [[python, "-m", "agent.cli"] for python in pythons]
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            # Bytecode is cached, as in an installed copy: the warm-up run writes it, here
            # rather than into the checkout.  Without a cache every run recompiles our
            # modules from source (0.2 s of ``ask``), a cost no installed user pays.
            "PYTHONPYCACHEPREFIX": str(Path(scratch) / "pycache"),
            "EHR_AGENT_DB": str(Path(scratch) / "store.sqlite"),
            "EHR_AGENT_AUDIT_DB": str(Path(scratch) / "audit.sqlite"),
            "EHR_AGENT_MODEL": "none",
            "XDG_DATA_HOME": scratch,
        }
        subprocess.run(
            [*clis[0], "load", str(_smallest_patient_bundle()), "--no-validate"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=scratch,
        )
        listing = subprocess.run(
            [*clis[0], "patients", "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            cwd=scratch,
        )
        patient = json.loads(listing.stdout)[0]["id"]
        baselines = _medians([[python, "-c", "pass"] for python in pythons], env, args.runs)
        arguments = {
            "--help": ["--help"],
            "patients": ["patients"],
            "ask --model none": ["ask", "Any allergies?", "-p", patient, "--model", "none"],
        }
        print(f"{args.runs} runs each, medians, environments interleaved")
        for python, (baseline, baseline_cpu) in zip(pythons, baselines, strict=True):
            print(f"[{python}] python -c pass {baseline:6.3f} s wall, {baseline_cpu:6.3f} s CPU")
        missed = 0
        for name, tail in arguments.items():
            measured = _medians([[*cli, *tail] for cli in clis], env, args.runs)
            floors = _medians([[python, "-c", FLOORS[name]] for python in pythons], env, args.runs)
            for python, (seconds, cpu), (base, base_cpu), (floor, floor_cpu) in zip(
                pythons, measured, baselines, floors, strict=True
            ):
                over = seconds - base
                verdict = "ok" if over <= TARGETS[name] else "TARGET MISSED"
                print(
                    f"[{python}] ehr-agent {name:14} {seconds:6.3f} s wall (+{over:.3f} s; "
                    f"target +{TARGETS[name]:.1f} s) {verdict}; "
                    f"{cpu:6.3f} s CPU (+{cpu - base_cpu:.3f} s)"
                )
                print(
                    f"  its libraries alone      {floor:6.3f} s wall (+{floor - base:.3f} s), "
                    f"{floor_cpu:6.3f} s CPU (+{floor_cpu - base_cpu:.3f} s): {FLOORS[name]}"
                )
                missed += verdict != "ok"
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
