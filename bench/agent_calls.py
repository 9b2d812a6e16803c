"""LLM calls, prompt tokens and wall time (model versus everything else) per question.

    python bench/agent_calls.py [--model none|gguf|PATH.gguf] [--patients N] [--n-ctx 4096]

Why: on a laptop CPU the model is the cost, so the graph must not spend calls it does not
need (targets from issue 4: at most 2 LLM calls for a single-fact question, i.e. the rules
pick the tool and the model only answers) and everything that is not the model (routing,
tools over the embedded FHIR facade, prompt building, verification) must stay under 50 ms
per question.  ``gguf`` (the default) is the packaged Gemma 3 270M; ``none`` measures the
rule-based path alone.  Fixture patients are loaded into an in-memory embedded store.
It also prints how many tool results a question decoded and alias maps it built (issue 12:
once per result, one map per alias list; see ``agent.results``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent import AgentOutput, build_graph  # noqa: E402
from agent.assistant import Assistant  # noqa: E402
from agent.models.base import ChatModel  # noqa: E402
from agent.models.spec import load_model, small_test_model_path  # noqa: E402
from agent.results import derived_counts  # noqa: E402
from fhir_client.embedded import EmbeddedStore, embedded_client  # noqa: E402
from fhir_client.loading import load_paths  # noqa: E402

SINGLE_FACT = (
    "What was the most recent HbA1c?",
    "When was the last flu shot?",
    "What medications is the patient taking?",
    "Does the patient have any allergies?",
    "When was the last visit?",
    "What are the active problems?",
    "What was the latest blood pressure?",
)
OPEN = (
    "Is the diabetes well controlled?",
    "How is the kidney function doing?",
)
CONFIG = {"answer_max_tokens": 96, "plan_max_tokens": 160, "context_window": 4096}


def _model(spec: str, n_ctx: int) -> ChatModel | None:
    if spec == "gguf":
        spec = str(small_test_model_path())
    return load_model(spec, n_ctx=n_ctx) if spec != "none" else None


Views = dict[str, int]


async def _run(
    spec: str, patients: int, n_ctx: int
) -> tuple[list[tuple[str, str, AgentOutput]], list[Views]]:
    model = _model(spec, n_ctx)
    store = EmbeddedStore(Path(tempfile.mkdtemp()) / "bench.sqlite")
    results: list[tuple[str, str, AgentOutput]] = []
    views: list[Views] = []
    async with embedded_client(store, timeout=600) as client:
        await load_paths(client, [REPO / "synthea_fixtures" / "fhir"], validate=False)
        ids = [
            p["id"]
            for p in await client.search("Patient", {"_count": str(patients)}, max_results=patients)
        ][:patients]
        assistant = Assistant(client, build_graph(), model=model)
        for patient_id in ids:
            for kind, questions in (("single", SINGLE_FACT), ("open", OPEN)):
                for question in questions:
                    before = derived_counts()
                    output = await assistant.ask(patient_id, question, configurable=CONFIG)
                    after = derived_counts()
                    results.append((kind, question, output))
                    views.append({k: after[k] - before[k] for k in after})
    store.close()
    return results, views


def _report(spec: str, results: list[tuple[str, str, AgentOutput]], views: list[Views]) -> int:
    print(f"model: {spec}; {len(results)} questions")
    print(f"{'kind':7} {'calls':>5} {'prompt':>7} {'model s':>8} {'other ms':>9}  question")
    for kind, question, out in results:
        print(
            f"{kind:7} {out.tokens.llm_calls:5d} {out.tokens.prompt_tokens:7d} "
            f"{out.timings.model_seconds:8.2f} {out.timings.other_seconds * 1000:9.1f}  {question}"
        )
    acts = [sum(1 for s in out.steps if s.node == "act" and not s.error) for _, _, out in results]
    print(
        f"per question: tool results {sum(acts) / len(acts):.2f}, decoded "
        f"{statistics.mean(v['decoded_results'] for v in views):.2f}; alias maps built "
        f"{statistics.mean(v['alias_maps'] for v in views):.2f} (means)"
    )
    failures = 0
    for kind in ("single", "open"):
        rows = [out for k, _, out in results if k == kind]
        calls = [o.tokens.llm_calls for o in rows]
        other = [o.timings.other_seconds * 1000 for o in rows]
        print(
            f"{kind}: LLM calls median {statistics.median(calls)} max {max(calls)}; "
            f"prompt tokens median {statistics.median(o.tokens.prompt_tokens for o in rows)}; "
            f"model s median {statistics.median(o.timings.model_seconds for o in rows):.2f}; "
            f"other ms median {statistics.median(other):.1f} max {max(other):.1f}; "
            f"fallbacks {sum(o.fallback for o in rows)}"
        )
        if kind == "single" and max(calls) > 2:
            print("  TARGET MISSED: more than 2 LLM calls for a single-fact question")
            failures += 1
        if statistics.median(other) > 50:
            print("  TARGET MISSED: non-model overhead median above 50 ms")
            failures += 1
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gguf", help="none, gguf (Gemma 3 270M) or PATH.gguf")
    parser.add_argument("--patients", type=int, default=3)
    parser.add_argument("--n-ctx", type=int, default=4096)
    args = parser.parse_args()
    started = time.perf_counter()
    results, views = asyncio.run(_run(args.model, args.patients, args.n_ctx))
    status = _report(args.model, results, views)
    print(f"wall {time.perf_counter() - started:.1f} s")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
