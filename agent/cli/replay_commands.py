"""``ehr-agent replay``: ask templated questions about Synthea patients and score the answers.

The ground truth is computed from each patient's record (``$everything`` through the
same ``--db``/``--fhir-url`` source the agent reads), the agent answers one question at
a time, and every scored result goes to ``<report>.partial.jsonl`` at once.  Ctrl-C
writes a partial report and keeps the checkpoint; running the same command again
resumes where it stopped.  Scores per category go to stdout, progress to stderr.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.cli import rendering
from agent.cli.agent_extra import require_agent_extra
from agent.cli.options import DbOption, FhirTokenOption, FhirUrlOption, settings_from_options
from agent.models.base import ChatModel, ModelError
from agent.models.spec import ENV_MODEL
from agent.record_source import open_fhir_client
from agent.replay.model import Question
from agent.replay.questions_file import QuestionsFileError, load_questions_file
from agent.replay.report import (
    SCORE_KEYS,
    build_report,
    compare_reports,
    comparison_markdown,
    load_report,
    write_report,
)
from agent.replay.runner import Checkpoint, CheckpointMismatch, QuestionResult, plan_replay
from agent.replay.runner import run_replay as run_questions
from agent.settings import Settings
from fhir_client.client import FhirClient
from fhir_client.errors import FhirError, ResourceNotFound
from fhir_client.limits import MAX_REPLAY_CONCURRENCY


class ReplayError(Exception):
    """A problem the user can fix; the message says how."""


def checkpoint_path(report: Path) -> Path:
    return report.with_name(report.name + ".partial.jsonl")


def _load_model(spec: str, gpu_layers: int | None) -> ChatModel | None:
    from agent.models.spec import load_model

    options: dict[str, Any] = {}
    local = spec.lower() == "medgemma" or spec.lower().endswith(".gguf")
    if gpu_layers is not None:
        if not local:
            raise ReplayError("--gpu-layers applies to local GGUF models (medgemma or .gguf)")
        options["n_gpu_layers"] = gpu_layers
    try:
        return load_model(spec, **options)
    except (ModelError, ValueError, FileNotFoundError) as error:
        raise ReplayError(f"Cannot use model {spec!r}: {error}") from error


async def _patient_ids(client: FhirClient, chosen: list[str], all_patients: bool) -> list[str]:
    if all_patients:
        ids = [str(p["id"]) for p in await client.search("Patient")]
        if not ids:
            raise ReplayError("The data source holds no patients; load some with `ehr-agent load`.")
        return sorted(ids)
    for patient_id in chosen:
        try:
            await client.read("Patient", patient_id)
        except ResourceNotFound as error:
            raise ReplayError(
                f"No patient {patient_id!r} here; list the ids with `ehr-agent patients`."
            ) from error
    return chosen


@contextmanager
def _progress() -> Iterator[Callable[[int], Callable[[QuestionResult, bool], None]]]:
    """A stderr progress bar; yields a factory that takes the total and returns the callback."""
    with Progress(
        TextColumn("[bold]replay"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=rendering.stderr,
        transient=False,
    ) as progress:

        def start(total: int) -> Callable[[QuestionResult, bool], None]:
            task = progress.add_task("replay", total=total, status="")

            def advance(result: QuestionResult, resumed: bool) -> None:
                mark = "resumed" if resumed else ("ok" if result.score.answer_correct else "wrong")
                status = f"{result.question.category}: {mark}"
                progress.update(task, advance=1, status=status)

            return advance

        yield start


async def _replay(
    settings: Settings,
    patients: list[str],
    all_patients: bool,
    extra: list[Question],
    templates: bool,
    freeform: bool,
    heldout: bool,
    fresh_set: bool,
    model: ChatModel | None,
    checkpoint: Checkpoint,
    threads: str | None = None,
    concurrency: int = 1,
) -> tuple[list[QuestionResult], int]:
    from agent.checkpoints import open_checkpointer
    from agent.graph import build_graph
    from agent.replay.answerer import AgentAnswerer
    from agent.replay.concurrent import run_replay_concurrently

    async with (
        open_fhir_client(settings, notify=rendering.notify) as client,
        open_checkpointer(threads or ":memory:") as saver,
    ):
        ids = await _patient_ids(client, patients, all_patients) if patients or all_patients else []
        plans = await plan_replay(
            client,
            ids,
            extra,
            templates=templates,
            freeform=freeform,
            heldout=heldout,
            fresh_set=fresh_set,
        )
        total = sum(len(p.questions) for p in plans)
        if total == 0:
            raise ReplayError("No questions to ask: the records support no template question.")
        rendering.notify(f"Replaying {total} questions about {len(plans)} patients.")
        answerer = AgentAnswerer(client, model, build_graph(checkpointer=saver))
        with _progress() as start:
            if concurrency == 1:
                results = await run_questions(plans, answerer, checkpoint, start(total))
            else:
                results = await run_replay_concurrently(
                    plans, answerer, checkpoint, start(total), concurrency=concurrency
                )
        return results, len(plans)


def _scores_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"Replay scores (model {report['meta']['model']})")
    table.add_column("category", no_wrap=True, min_width=18)
    table.add_column("questions", justify="right")
    for key in SCORE_KEYS:
        table.add_column(key.replace("_", " "), justify="right")
    table.add_column("p50 s", justify="right")
    rows = [*sorted(report["by_category"].items()), ("overall", report["overall"])]
    for name, stats in rows:
        cells = ["-" if stats[k] is None else f"{stats[k]:.2f}" for k in SCORE_KEYS]
        p50 = "-" if stats["latency_p50"] is None else f"{stats['latency_p50']:.2f}"
        table.add_row(name, str(stats["questions"]), *cells, p50)
    return table


def _meta(settings: Settings, model: str, patients: int, complete: bool) -> dict[str, Any]:
    return {
        "model": model,
        "source": settings.source_description,
        "patients": patients,
        "complete": complete,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def replay(
    patients: Annotated[
        list[str] | None, typer.Argument(help="Patient ids to replay (or use --all).")
    ] = None,
    all_patients: Annotated[bool, typer.Option("--all", help="Replay every patient.")] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help=f"none, medgemma, PATH.gguf or openai:URL#model [env {ENV_MODEL}; default none].",
            show_default=False,
        ),
    ] = None,
    gpu_layers: Annotated[
        int | None,
        typer.Option("--gpu-layers", help="Layers to offload to the GPU (local GGUF; -1 = all)."),
    ] = None,
    questions: Annotated[
        Path | None, typer.Option("--questions", help="YAML file of extra questions.")
    ] = None,
    templates: Annotated[
        bool, typer.Option("--templates/--no-templates", help="Ask the templated questions.")
    ] = True,
    freeform: Annotated[
        bool,
        typer.Option(
            "--freeform/--no-freeform",
            help="Also ask the free-form set (paraphrase, yes/no, periods, other persons...).",
        ),
    ] = False,
    heldout: Annotated[
        bool,
        typer.Option(
            "--heldout/--no-heldout",
            help="Also ask the held-out free-form set (wordings written after the rules).",
        ),
    ] = False,
    fresh_set: Annotated[
        bool,
        typer.Option(
            "--fresh-set/--no-fresh-set",
            help="Also ask the small fresh free-form set (a third wording, measured before fixes).",
        ),
    ] = False,
    report: Annotated[
        Path, typer.Option("--report", help="Where to write the JSON report (+ .md summary).")
    ] = Path("replay-report.json"),
    compare: Annotated[
        Path | None, typer.Option("--compare", help="An earlier report to compare against.")
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Discard an interrupted run's checkpoint.")
    ] = False,
    checkpoint_db: Annotated[
        str | None,
        typer.Option(
            "--checkpoint-db",
            help="Keep each question's thread in this SQLite file or postgresql:// URL.",
            show_default=False,
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            min=1,
            max=MAX_REPLAY_CONCURRENCY,
            help="Questions in flight at once (for a model server with parallel slots).",
        ),
    ] = 1,
    db: DbOption = None,
    fhir_url: FhirUrlOption = None,
    fhir_token: FhirTokenOption = None,
) -> None:
    """Replay test patients: questions with answers from the record, scored, and a report."""
    require_agent_extra("replay")
    settings = settings_from_options(db, fhir_url, fhir_token)
    spec = model or os.environ.get(ENV_MODEL) or "none"
    checkpoint = Checkpoint(checkpoint_path(report), spec)
    try:
        if not patients and not all_patients and questions is None:
            raise ReplayError("Name patient ids, pass --all, or give --questions FILE.")
        old = load_report(compare) if compare else None
        extra = load_questions_file(questions) if questions else []
        chosen = _load_model(spec, gpu_layers)
        if fresh:
            checkpoint.discard()
        results, patient_count = asyncio.run(
            _replay(
                settings,
                patients or [],
                all_patients,
                extra,
                templates,
                freeform,
                heldout,
                fresh_set,
                chosen,
                checkpoint,
                checkpoint_db,
                concurrency,
            )
        )
    except KeyboardInterrupt:
        _write_partial(settings, spec, checkpoint, report)
        raise typer.Exit(130) from None
    except (ReplayError, QuestionsFileError, CheckpointMismatch, ValueError) as error:
        rendering.notify(f"Error: {error}")
        raise typer.Exit(1) from error
    except FhirError as error:
        rendering.notify(f"Error talking to the {settings.source_description}: {error}")
        raise typer.Exit(1) from error
    document = build_report(results, _meta(settings, spec, patient_count, True))
    if old is not None:
        comparison = compare_reports(old, document)
        document["comparison"] = {
            "against": str(compare),
            "regressions": comparison.regressions,
            "improvements": comparison.improvements,
            "deltas": comparison.deltas,
        }
    summary = write_report(document, report)
    checkpoint.discard()
    rendering.stdout.print(_scores_table(document))
    if old is not None:
        rendering.stdout.print(comparison_markdown(comparison), markup=False, highlight=False)
    rendering.notify(f"Report: {report} (summary {summary}).")


def _write_partial(settings: Settings, spec: str, checkpoint: Checkpoint, report: Path) -> None:
    """After Ctrl-C: a report of what was done, and the checkpoint kept for resuming."""
    try:
        done = list(checkpoint.load().values())
    except CheckpointMismatch:
        done = []
    if done:
        patients = len({r.question.patient_id for r in done})
        write_report(build_report(done, _meta(settings, spec, patients, False)), report)
        rendering.notify(
            f"Interrupted after {len(done)} questions; partial report in {report}. "
            "Run the same command again to resume (--fresh to start over)."
        )
    else:
        rendering.notify("Interrupted before any question was answered.")
