"""Replay with a real model: invalid plans, fallbacks, unverified citations, per kind.

    python bench/model_replay.py [--freeform] [--no-templates] [--per-category N]
                                 [--model PATH.gguf | --model openai:URL#NAME | --llama-server]
                                 [--threads N] [--report PATH]

``--model openai:URL#NAME`` replays through an OpenAI-compatible server already running;
``--llama-server`` starts llama.cpp's own ``llama-server`` (built once by
``tests/support/llama_server.py``) with the 270M GGUF on a free local port and replays through it.

Why: issue 10 asks that, with the Gemma 3 270M GGUF, the replay show zero invalid plans
and zero unverified citations, and issue 14 a citation-validity figure with a real
model.  This runs the product's own replay (``agent.replay``: questions and ground truth
from the Synthea fixtures, the real graph over the embedded store, the real llama.cpp
runtime) and prints, overall and per category:

* ``invalid plans``: planning steps (a tool call, or the reading form) whose
  grammar-constrained output the product rejected (the replay's own count, from the
  answer's steps), and, counted independently at the model's boundary, every schema
  output that failed to parse or validate;
* ``fallbacks``: answers where the model's draft was rejected and the extractive answer
  given instead (the product degrading honestly, as it says in the answer);
* ``unverified citations``: citations the agent did not verify or that name nothing in
  the patient's record; ``citation validity`` (1.00 is the target);
* ``success`` (answer correct), seconds per question (median, p95).

The 270M model is a base model whose prose is nonsense: the figures that matter are the
structural ones, not ``success``.  By default the whole set runs (hundreds of questions,
about an hour on a free 2-core machine); ``--per-category N`` takes the same N questions
of every category on every run (``agent.replay.sampling``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.models.base import ChatModel, Completion, InvalidModelOutput, TokenCallback  # noqa: E402
from agent.models.json_output import schema_errors  # noqa: E402
from agent.models.spec import load_model, small_test_model_path  # noqa: E402
from agent.replay.answerer import AgentAnswerer  # noqa: E402
from agent.replay.report import build_report, write_report  # noqa: E402
from agent.replay.runner import Checkpoint, QuestionResult, plan_replay, run_replay  # noqa: E402
from agent.replay.sampling import sample_plans  # noqa: E402
from fhir_client.embedded import EmbeddedStore, embedded_client  # noqa: E402
from fhir_client.loading import load_paths  # noqa: E402
from tests.support.llama_server import ensure_llama_server, running_llama_server  # noqa: E402

FIXTURES = REPO / "synthea_fixtures" / "fhir"
OUT = REPO / ".bench-out" / "model-replay"
CONFIG: dict[str, Any] = {"answer_max_tokens": 96, "plan_max_tokens": 160, "context_window": 4096}
"""A CPU-sized run: answers of up to 96 tokens (the 270M model rambles to the limit)."""
SERVER_ALIAS = "gemma-3-270m"
"""The name ``--llama-server`` serves the 270M GGUF under (``--alias``)."""
SERVER_TIMEOUT_SECONDS = 600
"""One request to a local server on a loaded 2-core machine: a bound, not an estimate."""


class SchemaAudit:
    """Wraps a model and checks every schema-constrained output at the boundary.

    Independent of the graph's own bookkeeping: an output counts as invalid when the
    backend refused it (``InvalidModelOutput``) or when it is not JSON valid against the
    schema that was asked for.
    """

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.name = model.name
        self.context_window = model.context_window
        self.schema_calls = 0
        self.invalid: list[str] = []

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    async def complete(
        self,
        system: str,
        user: str,
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
    ) -> Completion:
        if json_schema is not None:
            self.schema_calls += 1
        try:
            completion = await self.model.complete(
                system,
                user,
                json_schema=json_schema,
                max_tokens=max_tokens,
                temperature=temperature,
                on_token=on_token,
            )
        except InvalidModelOutput as error:
            self.invalid.append(f"{error}"[:300])
            raise
        if json_schema is not None:
            try:
                problems = schema_errors(json.loads(completion.text), json_schema)
            except ValueError as error:
                problems = [f"not JSON: {error}"]
            if problems:
                self.invalid.append("; ".join(problems)[:300])
        return completion


def _fixture_files() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


def _line(name: str, results: list[QuestionResult], summary: dict[str, Any]) -> str:
    seconds = [r.latency_seconds for r in results if r.error is None]
    median = statistics.median(seconds) if seconds else float("nan")
    validity = summary["citation_validity"]
    return (
        f"{name:18}{summary['questions']:6}{summary['answer_correct'] or 0:9.2f}"
        f"{summary['invalid_plans']:9}{summary['fallbacks']:10}"
        f"{summary['unverified_citations']:12}"
        f"{'-' if validity is None else f'{validity:.2f}':>10}{summary['uncited']:9}"
        f"{median:9.1f}{summary['errors']:8}"
    )


def _model(spec: str, threads: int) -> ChatModel:
    """The backend for ``spec``, sized to ``CONFIG``'s context window."""
    if spec.startswith("openai:"):
        options: dict[str, Any] = {
            "context_window": CONFIG["context_window"],
            "timeout": SERVER_TIMEOUT_SECONDS,
        }
    else:
        options = {"n_ctx": CONFIG["context_window"], "n_threads": threads}
    model = load_model(spec, **options)
    assert model is not None
    return model


def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Run the replay, through a ``llama-server`` started here when asked."""
    if not args.llama_server:
        return asyncio.run(run(args, args.model or str(small_test_model_path())))
    binary = ensure_llama_server()
    log = OUT / "llama-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with running_llama_server(
        binary,
        Path(args.model or small_test_model_path()),
        log,
        alias=SERVER_ALIAS,
        context=CONFIG["context_window"],
        threads=args.threads,
    ) as url:
        return asyncio.run(run(args, f"openai:{url}#{SERVER_ALIAS}"))


async def run(args: argparse.Namespace, spec: str) -> dict[str, Any]:
    model = _model(spec, args.threads)
    audit = SchemaAudit(model)
    store = EmbeddedStore(":memory:")
    try:
        async with embedded_client(store, timeout=600) as client:
            loaded = await load_paths(client, _fixture_files(), validate=False)
            assert not loaded.failures, [str(f.error) for f in loaded.failures]
            ids = [str(p["id"]) for p in await client.search("Patient", {"_count": "100"})]
            plans = await plan_replay(
                client, sorted(ids), templates=args.templates, freeform=args.freeform
            )
            if args.per_category:
                plans = sample_plans(plans, args.per_category)
            total = sum(len(p.questions) for p in plans)
            print(f"{total} questions over {len(plans)} patients", file=sys.stderr, flush=True)
            answerer = AgentAnswerer(client, audit, configurable=CONFIG)
            done = 0

            def progress(result: QuestionResult, resumed: bool) -> None:
                nonlocal done
                done += 1
                flags = []
                if result.invalid_plans:
                    flags.append(f"invalid plans {result.invalid_plans}")
                if result.fallback:
                    flags.append("fallback")
                if result.score.invalid_citations:
                    flags.append(f"unverified {result.score.invalid_citations}")
                print(
                    f"  [{done}/{total}] {result.latency_seconds:5.1f} s "
                    f"{result.question.category}: {result.question.text[:60]!r} " + " ".join(flags),
                    file=sys.stderr,
                    flush=True,
                )

            with tempfile.TemporaryDirectory() as tmp:
                # With --report, results are kept as they come (an interrupted run resumes).
                where = Path(args.report).with_suffix(".partial.jsonl") if args.report else None
                checkpoint = Checkpoint(where or Path(tmp) / "replay.jsonl", audit.name)
                started = time.perf_counter()
                results = await run_replay(plans, answerer, checkpoint, progress)
                seconds = time.perf_counter() - started
    finally:
        store.close()
    meta = {
        "model": audit.name,
        "patients": len(plans),
        "source": "synthea_fixtures (embedded store)",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": CONFIG,
        "per_category": args.per_category,
    }
    report = build_report(results, meta)
    report["meta"]["schema_outputs"] = audit.schema_calls
    report["meta"]["schema_outputs_invalid"] = audit.invalid
    report["meta"]["wall_seconds"] = round(seconds, 1)
    # For a model server: the structured-output form its detection chose (None: not asked).
    form = getattr(model, "structured_mode", None) if audit.schema_calls else None
    report["meta"]["structured_form"] = form
    print_report(report, results, args)
    if args.report:
        write_report(report, Path(args.report))
    return report


def print_report(
    report: dict[str, Any], results: list[QuestionResult], args: argparse.Namespace
) -> None:
    meta = report["meta"]
    chosen = (("templates", args.templates), ("freeform", args.freeform))
    sets = "+".join(name for name, on in chosen if on)
    sample = f"{args.per_category} per category" if args.per_category else "all questions"
    print(f"\n== Replay with {meta['model']} ({sets}, {sample}), {args.threads} thread(s)")
    print(
        f"{'category':18}{'qs':>6}{'success':>9}{'invalid':>9}{'fallback':>10}"
        f"{'unverified':>12}{'validity':>10}{'uncited':>9}{'p50 s':>9}{'errors':>8}"
    )
    by_category: dict[str, list[QuestionResult]] = {}
    for result in results:
        by_category.setdefault(result.question.category, []).append(result)
    for name, stats in sorted(report["by_category"].items()):
        print(_line(name, by_category[name], stats))
    print(_line("OVERALL", results, report["overall"]))
    invalid = meta["schema_outputs_invalid"]
    print(
        f"\nSchema-constrained outputs: {meta['schema_outputs']}, invalid at the model's "
        f"boundary: {len(invalid)}; wall time {meta['wall_seconds']} s"
        + (f"; server form: {meta['structured_form']}" if meta["structured_form"] else "")
    )
    for problem in invalid[:5]:
        print(f"  - {problem}")
    print(
        "invalid = planning steps whose output the product rejected; fallback = the "
        "extractive answer replaced the model's draft; unverified = citations not verified "
        "or not in the record; validity = mean over answers that cite something"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        help="a .gguf path (default: the packaged Gemma 3 270M) or openai:URL#NAME "
        "(a running OpenAI-compatible server)",
    )
    parser.add_argument(
        "--llama-server",
        action="store_true",
        help="serve the GGUF with llama.cpp's llama-server (built once by "
        "tests/support/llama_server.py) and replay through it",
    )
    parser.add_argument("--templates", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--freeform", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--per-category", type=int, default=0, help="0: every question")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument(
        "--report",
        help="also write the JSON report (and its .md) here; results are kept as they come "
        "in REPORT.partial.jsonl, and the same command resumes an interrupted run",
    )
    args = parser.parse_args(argv)
    if args.llama_server and args.model and args.model.startswith("openai:"):
        parser.error("--llama-server serves a .gguf; it cannot take --model openai:...")
    bench(args)


if __name__ == "__main__":
    main()
