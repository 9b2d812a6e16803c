"""Cheaper model tokens on a CPU: each option against today's path, on the real Gemma 3 270M.

    python bench/model_speed.py [--questions 4] [--threads 1] [--quick]
                                [--server-questions 8] [--concurrency 1,2,4] [--no-server]
                                [--workload single|thread] [--variants today,prefix-cache]

Why: on a CPU, decode speed is bounded by memory bandwidth, so the levers are fewer
tokens evaluated and cheaper ones. Measured in ONE run, the variants interleaved
question by question so the shared machine's noise hits them alike:

1. ``today``: the backend as it was (llama.cpp reuses only a prefix of the previous
   evaluation);
2. ``prefix-cache``: the KV state of each instruction text's prompt prefix kept and
   restored (:mod:`agent.models.llama_prefix_cache`);
3. ``prompt-lookup``: speculative decoding with drafts copied from the prompt
   (llama-cpp-python's ``LlamaPromptLookupDecoding``), for answers that copy evidence;
4. ``both``.

Every variant answers the same questions through the real graph (route, plan, tools over
the embedded store, answer, verify), so "seconds per answer" is what a user waits.
``--workload single`` asks each question in a fresh thread (mostly rule-routed: the model
only answers); ``--workload thread`` asks open questions and follow-ups in one thread per
variant, so the model reads, plans and answers in turn: the repeated-prefix case the
prefix cache is for (its instruction texts alternate, and the tool list and the growing
conversation digest repeat).
Printed: seconds per answer (median), prompt tokens evaluated per answer, generated
tokens/s, and the ratio to ``today``. Greedy decoding makes the variants' answers
identical (checked here too, and in tests/agent/models/test_models_llama_speed_options.py).

Then ``replay --concurrency N`` against llama-cpp-python's OpenAI-compatible server
(``python -m llama_cpp.server``) with the same GGUF: questions/s against N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402

from agent import AgentContext, ask, build_graph  # noqa: E402
from agent.models.llama_cpp_backend import LlamaCppModel  # noqa: E402
from agent.models.spec import load_model, small_test_model_path  # noqa: E402
from agent.replay.answerer import AgentAnswerer  # noqa: E402
from agent.replay.concurrent import run_replay_concurrently  # noqa: E402
from agent.replay.runner import Checkpoint, PatientQuestions, plan_replay  # noqa: E402
from fhir_client.embedded import EmbeddedStore, embedded_client  # noqa: E402
from fhir_client.loading import load_paths  # noqa: E402
from tools import make_toolset  # noqa: E402

FIXTURES = REPO / "synthea_fixtures" / "fhir"
OUT = REPO / ".bench-out" / "model-speed"
QUESTIONS = (
    "What was the most recent HbA1c?",
    "What medications is the patient taking?",
    "When was the last visit?",
    "What are the active problems?",
    "Is the diabetes well controlled?",
    "What was the latest blood pressure?",
)
THREAD_QUESTIONS = (
    "Is the diabetes well controlled?",
    "How is the kidney function doing?",
    "and before that?",
    "Anything notable about cardiovascular risk?",
    "Summarize the recent lab work.",
    "What happened at the most recent hospital stay?",
)
CONFIG = {"answer_max_tokens": 64, "plan_max_tokens": 96, "context_window": 2048}
VARIANTS: dict[str, dict[str, object]] = {
    "today": {"prefix_cache": False, "prompt_lookup_tokens": 0},
    "prefix-cache": {"prefix_cache": True, "prompt_lookup_tokens": 0},
    "prompt-lookup": {"prefix_cache": False, "prompt_lookup_tokens": 8},
    "both": {"prefix_cache": True, "prompt_lookup_tokens": 8},
}


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    model_seconds: list[float] = field(default_factory=list)
    prompt_tokens: list[int] = field(default_factory=list)
    completion_tokens: list[int] = field(default_factory=list)
    evaluated: list[int] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)


def _fixture_files() -> list[Path]:
    patients = sorted(p for p in FIXTURES.glob("*.json") if "Information" not in p.name)
    reference = [p for p in FIXTURES.glob("*.json") if "Information" in p.name]
    # A mid-sized patient: real evidence lists, prompts of a few hundred tokens.
    return [*reference, sorted(patients, key=lambda p: p.stat().st_size)[len(patients) // 2]]


async def measure_variants(args: argparse.Namespace) -> dict[str, Samples]:
    gguf = small_test_model_path()
    variants = {name: VARIANTS[name] for name in args.variants.split(",")}
    models = {
        name: LlamaCppModel(gguf, n_ctx=CONFIG["context_window"], n_threads=args.threads, **opts)  # type: ignore[arg-type]
        for name, opts in variants.items()
    }
    samples = {name: Samples() for name in variants}
    store = EmbeddedStore(":memory:")
    thread = args.workload == "thread"
    graph = build_graph(checkpointer=InMemorySaver() if thread else None)
    questions = (THREAD_QUESTIONS if thread else QUESTIONS)[: args.questions]
    try:
        async with embedded_client(store, timeout=600) as client:
            report = await load_paths(client, _fixture_files(), validate=False)
            assert not report.failures, [str(f.error) for f in report.failures]
            patient = str(next(iter(await client.search("Patient")))["id"])
            # Warm-up, not counted: the first call of a process compiles the planning
            # grammar (cached for every variant after), which would bill whichever ran first.
            for model in models.values():
                context = AgentContext(toolset=make_toolset(client, patient), model=model)
                await ask(graph, context, questions[0], configurable=CONFIG)
            for question in questions:
                for name, model in models.items():
                    evaluated_before = _evaluated(model)
                    started, cpu = time.perf_counter(), time.process_time()
                    context = AgentContext(toolset=make_toolset(client, patient), model=model)
                    output = await ask(
                        graph,
                        context,
                        question,
                        thread_id=f"bench-{name}" if thread else None,
                        configurable=CONFIG,
                    )
                    sample = samples[name]
                    sample.seconds.append(time.perf_counter() - started)
                    sample.cpu_seconds.append(time.process_time() - cpu)
                    sample.model_seconds.append(output.timings.model_seconds)
                    sample.prompt_tokens.append(output.tokens.prompt_tokens)
                    sample.completion_tokens.append(output.tokens.completion_tokens)
                    sample.evaluated.append(
                        output.tokens.prompt_tokens - (_evaluated(model) - evaluated_before)
                    )
                    sample.answers.append(output.answer)
                    print(
                        f"  {name:14} {sample.seconds[-1]:7.2f} s {sample.cpu_seconds[-1]:7.2f} "
                        f"s CPU  {question}",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        store.close()
    return samples


def _evaluated(model: LlamaCppModel) -> int:
    """Prompt tokens the prefix cache spared so far (0 without it)."""
    return model.prefix_cache.stats.reused_tokens if model.prefix_cache else 0


def report_variants(
    samples: dict[str, Samples], questions: int, threads: int, workload: str = "single"
) -> None:
    base = samples["today"]
    base_cpu = sum(base.cpu_seconds)
    print(
        f"\n== Model speed: Gemma 3 270M Q4_K_M, {questions} questions ({workload}), "
        f"{threads} thread(s)"
    )
    print(
        f"{'variant':15}{'s/answer p50':>13}{'CPU s/answer':>13}{'CPU vs today':>13}"
        f"{'prompt tok':>11}{'evaluated':>10}{'gen tok':>8}{'gen tok/CPU s':>14}"
        f"{'same answers':>14}"
    )
    for name, s in samples.items():
        p50 = statistics.median(s.seconds)
        cpu = sum(s.cpu_seconds) / len(s.cpu_seconds)
        tokens_per_cpu_s = sum(s.completion_tokens) / max(sum(s.cpu_seconds), 1e-9)
        same = s.answers == base.answers
        print(
            f"{name:15}{p50:13.2f}{cpu:13.2f}{base_cpu / max(sum(s.cpu_seconds), 1e-9):12.2f}x"
            f"{statistics.median(s.prompt_tokens):11.0f}{statistics.median(s.evaluated):10.0f}"
            f"{statistics.median(s.completion_tokens):8.0f}{tokens_per_cpu_s:14.1f}"
            f"{'yes' if same else 'NO':>14}"
        )
    print(
        "CPU s = this process's CPU time per answer (llama.cpp runs in it; on a saturated "
        "shared machine wall time is mostly waiting for a core); gen tok/CPU s = generated "
        "tokens per CPU second, prompt evaluation included; evaluated = prompt tokens minus "
        "those the prefix cache restored"
    )


# -- replay --concurrency N against an OpenAI-compatible server ---------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def llama_server(gguf: Path, threads: int, n_ctx: int) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on a free loopback port."""
    port = _free_port()
    OUT.mkdir(parents=True, exist_ok=True)
    log = (OUT / "llama-server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(n_ctx),
            "--n_threads",
            str(threads),
            "--model_alias",
            "gemma-270m",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"llama_cpp.server exited; see {OUT / 'llama-server.log'}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/models", timeout=5).status_code == 200:
                    break
            time.sleep(1)
        yield base
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        if process.poll() is None:
            process.kill()
        log.close()


async def measure_concurrency(
    base_url: str, levels: list[int], questions: int
) -> dict[int, tuple[float, int, int]]:
    """Questions/s, questions and errors of a replay at each concurrency level."""
    model = load_model(f"openai:{base_url}#gemma-270m", timeout=600, context_window=2048)
    store = EmbeddedStore(":memory:")
    results: dict[int, tuple[float, int, int]] = {}
    try:
        async with embedded_client(store, timeout=600) as client:
            await load_paths(client, _fixture_files(), validate=False)
            patient = str(next(iter(await client.search("Patient")))["id"])
            plans = await plan_replay(client, [patient])
            plan = plans[0]
            trimmed = [
                type(plan)(plan.patient_id, plan.questions[:questions], plan.record_references)
            ]
            # Warm-up, not counted: the server's first request pays its cold start.
            warm = [PatientQuestions(plan.patient_id, plan.questions[:1], plan.record_references)]
            with tempfile.TemporaryDirectory() as tmp:
                await run_replay_concurrently(
                    warm,
                    AgentAnswerer(client, model),
                    Checkpoint(Path(tmp) / "w.jsonl", "bench"),
                    concurrency=1,
                )
            for level in levels:
                answerer = AgentAnswerer(client, model)
                with tempfile.TemporaryDirectory() as tmp:
                    checkpoint = Checkpoint(Path(tmp) / "c.jsonl", "bench")
                    started = time.perf_counter()
                    done = await run_replay_concurrently(
                        trimmed, answerer, checkpoint, concurrency=level
                    )
                    seconds = time.perf_counter() - started
                errors = sum(1 for r in done if r.error)
                results[level] = (len(done) / seconds, len(done), errors)
                print(f"  concurrency {level}: {seconds:.1f} s", file=sys.stderr, flush=True)
    finally:
        store.close()
    return results


def report_concurrency(results: dict[int, tuple[float, int, int]]) -> None:
    print("\n== replay --concurrency N against llama_cpp.server (one model, one slot)")
    print(f"{'N':>3}{'questions/s':>13}{'vs N=1':>8}{'questions':>11}{'errors':>8}")
    first = next(iter(results.values()))[0]
    for level, (rate, count, errors) in results.items():
        print(f"{level:3}{rate:13.3f}{rate / first:7.2f}x{count:11}{errors:8}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=4)
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument("--server-questions", type=int, default=8)
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument("--no-server", action="store_true")
    parser.add_argument("--server-only", action="store_true", help="only replay --concurrency")
    parser.add_argument("--quick", action="store_true", help="CI size: 1 question, no server")
    parser.add_argument("--workload", choices=("single", "thread"), default="single")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated; 'today' is required"
    )
    args = parser.parse_args(argv)
    if "today" not in args.variants.split(","):
        parser.error("--variants must include 'today' (the baseline every ratio is against)")
    if args.quick:
        args.questions, args.no_server = 1, True
    if not args.server_only:
        samples = asyncio.run(measure_variants(args))
        report_variants(samples, args.questions, args.threads, args.workload)
    if not args.no_server:
        levels = [int(n) for n in args.concurrency.split(",")]
        with llama_server(small_test_model_path(), args.threads, CONFIG["context_window"]) as url:
            results = asyncio.run(measure_concurrency(url, levels, args.server_questions))
        report_concurrency(results)


if __name__ == "__main__":
    main()
