"""``ehr-agent model pull`` / ``model list`` and the default model, through the CLI.

The hub is the loopback stand-in from ``tests/support/hub_standin.py``, reached
through ``HF_ENDPOINT`` exactly as a mirror would be.
"""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.cli.model_commands import default_model_spec
from agent.models.spec import find_medgemma
from tests.support.hub_standin import (
    MODEL,
    TOKEN,
    HubStandIn,
    cache,
    payload,
    standin,
)

__all__ = ["cache", "standin"]  # fixtures used here by name

runner = CliRunner()
MMPROJ_LOCAL = "medgemma-1.5-4b-it-mmproj-F16.gguf"


@pytest.fixture
def hub_env(standin: HubStandIn, cache: Path, monkeypatch: pytest.MonkeyPatch) -> HubStandIn:
    monkeypatch.setenv("HF_ENDPOINT", standin.hub_url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    standin.required_token = TOKEN
    standin.files[MODEL] = payload(300_000)
    standin.files["mmproj-F16.gguf"] = payload(20_000, seed=3)
    return standin


def test_pull_downloads_medgemma_and_says_medgemma_now_uses_it(
    hub_env: HubStandIn, cache: Path
) -> None:
    result = runner.invoke(app, ["model", "pull"])

    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(hub_env.files[MODEL]).hexdigest()
    assert f"{cache / MODEL}: downloaded, SHA-256 verified ({digest})." in result.stdout
    assert "`--model medgemma` now uses this file." in result.stderr
    assert (cache / MODEL).read_bytes() == hub_env.files[MODEL]
    assert TOKEN not in result.output
    assert default_model_spec() == ("medgemma", None)


def test_pull_with_mmproj_keeps_the_projector_apart_from_the_model(
    hub_env: HubStandIn, cache: Path
) -> None:
    result = runner.invoke(app, ["model", "pull", "--mmproj"])

    assert result.exit_code == 0, result.output
    assert (cache / MMPROJ_LOCAL).read_bytes() == hub_env.files["mmproj-F16.gguf"]
    assert "`--model medgemma` now uses this file." in result.stderr
    assert find_medgemma() == cache / MODEL  # the projector is never taken for the model


def test_pull_of_another_quant_names_the_file_from_the_repo(hub_env: HubStandIn) -> None:
    result = runner.invoke(app, ["model", "pull", "--quant", "Q8_0"])

    assert result.exit_code == 1
    assert "no file medgemma-1.5-4b-it-Q8_0.gguf in repo unsloth/medgemma-1.5-4b-it-GGUF" in (
        result.stderr
    )
    assert f"available GGUF files: {MODEL}, mmproj-F16.gguf" in result.stderr


def test_pull_without_access_exits_1_with_the_gated_message(
    hub_env: HubStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_not_the_right_SECRET")

    result = runner.invoke(app, ["model", "pull"])

    assert result.exit_code == 1
    assert "https://huggingface.co/unsloth/medgemma-1.5-4b-it-GGUF" in result.stderr
    assert "with the token from HF_TOKEN" in result.stderr
    assert "hf_not_the_right_SECRET" not in result.output


def test_pull_offline_exits_1_and_says_where_to_put_the_file(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")

    result = runner.invoke(app, ["model", "pull"])

    assert result.exit_code == 1
    assert f"Error: cannot reach http://127.0.0.1:{port}" in result.stderr
    assert f"place it in {cache}" in " ".join(result.stderr.split())


def table_rows(lines: list[str]) -> list[list[str]]:
    """The cells of each body row of a rich table (``│ a │ b │``)."""
    return [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│")]


def test_list_shows_verified_unverified_and_partial_files(hub_env: HubStandIn, cache: Path) -> None:
    assert runner.invoke(app, ["model", "pull"]).exit_code == 0
    (cache / "medgemma-1.5-4b-it-Q8_0.gguf").write_bytes(b"copied by hand")
    (cache / "other-model.gguf.part").write_bytes(b"half")

    result = runner.invoke(app, ["model", "list"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"Model cache: {cache}" in lines[0]
    rows = {cells[0]: cells[2:] for cells in table_rows(lines)}
    assert rows[MODEL] == ["verified", "medgemma"]
    assert rows["medgemma-1.5-4b-it-Q8_0.gguf"] == ["not verified", ""]
    assert rows["other-model.gguf.part"] == ["partial", ""]
    assert "Partial downloads are resumed by `ehr-agent model pull`." in result.stdout
    assert f"Default model: medgemma ({MODEL})" in result.stdout


def test_list_of_an_empty_cache_says_how_to_fill_it(cache: Path) -> None:
    result = runner.invoke(app, ["model", "list"])

    assert result.exit_code == 0
    assert "No GGUF files cached. Run `ehr-agent model pull`" in result.stdout
    assert "Default model: none" in result.stdout


def test_default_model_spec_without_medgemma_explains_once(cache: Path) -> None:
    spec, notice = default_model_spec()
    assert spec == "none"
    assert notice == (
        f"MedGemma is not in the model cache ({cache}); answering without a model. "
        "Run `ehr-agent model pull` to download it."
    )
