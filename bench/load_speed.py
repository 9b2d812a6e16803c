"""Load rate with validation on, this tree against a git revision, and proof the stores match.

    nice -n 10 python bench/load_speed.py [--before REV] [--rounds 3] [PATH ...]

Why (issue 13, item 3): a change that makes ``ehr-agent load`` faster must store exactly
what the old loader stored. In one run, interleaved round by round, this loads ``PATH``
(default: the committed Synthea fixtures) into a fresh file-backed embedded store with
the loader of ``--before`` (default ``main``, exported as ``bench/load_memory.py`` does)
and with this tree's, each in a child process, validation on as ``ehr-agent load``; it
prints the median wall and CPU seconds and resources/s of each, and the after/before
ratio. Then it compares the two stores of the last round: every resource's JSON (its
``meta.lastUpdated``, the load's own clock, aside) and every index row (the
``_lastUpdated`` date rows aside), keyed by ``Type/id``; any difference fails the run.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from load_memory import OUT, export_revision  # noqa: E402

FIXTURES = REPO / "synthea_fixtures" / "fhir"
INDEX_TABLES = ("idx_token", "idx_ref", "idx_date", "idx_string")

_CHILD = """
import asyncio, json, sys, time
from pathlib import Path
import fhir_client
from fhir_client.embedded import EmbeddedStore, embedded_client
from fhir_client.limits import LOAD_REQUEST_DEADLINE_SECONDS, LOAD_TIMEOUT_SECONDS
from fhir_client.loading import load_paths
import fhir.resources.R4B  # imported before the clock starts, as in a warm CLI

async def main() -> None:
    store = EmbeddedStore(sys.argv[1])
    async with embedded_client(
        store, timeout=LOAD_TIMEOUT_SECONDS, deadline_seconds=LOAD_REQUEST_DEADLINE_SECONDS
    ) as client:
        wall, cpu = time.perf_counter(), time.process_time()
        report = await load_paths(client, [Path(p) for p in sys.argv[2:]])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    store.close()
    print(json.dumps({
        "code": str(Path(fhir_client.__file__).parents[1]),
        "wall": wall, "cpu": cpu, "resources": report.resource_count,
        "failures": [str(f.error) for f in report.failures],
    }))

asyncio.run(main())
"""


def load_in_child(code: Path, db: Path, paths: list[Path]) -> dict[str, Any]:
    """Load ``paths`` into a fresh ``db`` with the loader imported from ``code``."""
    for stale in db.parent.glob(db.name + "*"):
        stale.unlink()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(db), *(str(p.resolve()) for p in paths)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(code)},
        cwd=code,
    )
    if done.returncode:
        raise SystemExit(f"the loading child failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["code"] != str(code):
        raise SystemExit(f"the child imported the loader from {result['code']}, not {code}")
    if result["failures"]:
        raise SystemExit(f"load failed: {result['failures']}")
    return result


def stored_content(db: Path) -> dict[str, Any]:
    """Every resource and index row of a store, keyed by ``Type/id``, clock-free."""
    conn = sqlite3.connect(db)
    try:
        keys = {
            rid: f"{rtype}/{rid_text}"
            for rid, rtype, rid_text in conn.execute("SELECT rid, res_type, res_id FROM resource")
        }
        resources: dict[str, Any] = {}
        for rid, patient, version, text in conn.execute(
            "SELECT rid, patient_id, version, json_text FROM resource"
        ):
            resource = json.loads(text)
            resource["meta"].pop("lastUpdated", None)
            resources[keys[rid]] = (patient, version, resource)
        index: dict[str, list[tuple[Any, ...]]] = {}
        for table in INDEX_TABLES:
            rows = sorted(
                (keys[row[0]], *row[1:])
                for row in conn.execute(f"SELECT * FROM {table}")
                if not (table == "idx_date" and row[1] == "_lastUpdated")
            )
            index[table] = rows
        return {"resources": resources, "index": index}
    finally:
        conn.close()


def compare(before: Path, after: Path) -> list[str]:
    """What differs between two stores (empty when they hold the same)."""
    old, new = stored_content(before), stored_content(after)
    problems: list[str] = []
    if old["resources"].keys() != new["resources"].keys():
        problems.append("the stores hold different resources")
    differing = [k for k in old["resources"] if old["resources"][k] != new["resources"].get(k)]
    if differing:
        problems.append(f"{len(differing)} resources differ, e.g. {differing[0]}")
    for table in INDEX_TABLES:
        if old["index"][table] != new["index"][table]:
            problems.append(f"{table} differs ({len(old['index'][table])} rows before, "
                            f"{len(new['index'][table])} after)")  # fmt: skip
    total = sum(len(rows) for rows in new["index"].values())
    print(f"compared {len(new['resources'])} resources and {total} index rows")
    return problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[FIXTURES])
    parser.add_argument("--before", default="main", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    trees = {"before": export_revision(args.before), "after": REPO}
    figures: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for round_number in range(args.rounds):
        for name, code in trees.items():
            result = load_in_child(code, OUT / f"load-speed-{name}.sqlite", args.paths)
            figures[name].append(result)
            print(
                f"round {round_number + 1} {name:6} {result['resources']} resources, "
                f"wall {result['wall']:.2f} s, cpu {result['cpu']:.2f} s",
                flush=True,
            )
    medians = {}
    for name, rows in figures.items():
        wall = statistics.median(r["wall"] for r in rows)
        cpu = statistics.median(r["cpu"] for r in rows)
        count = rows[0]["resources"]
        medians[name] = (wall, cpu)
        print(f"{name:6} ({args.before if name == 'before' else 'this tree'}): median wall "
              f"{wall:.2f} s = {count / wall:.0f} resources/s, cpu {cpu:.2f} s = "
              f"{count / cpu:.0f} resources/s")  # fmt: skip
    print(f"after/before speed: wall {medians['before'][0] / medians['after'][0]:.2f}x, "
          f"cpu {medians['before'][1] / medians['after'][1]:.2f}x; "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    problems = compare(OUT / "load-speed-before.sqlite", OUT / "load-speed-after.sqlite")
    if problems:
        raise SystemExit("the stores differ: " + "; ".join(problems))
    print("the stores are identical (resources and index rows)")


if __name__ == "__main__":
    main()
