"""Model spec strings and where the packaged and cached models are found."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.models.base import ModelUnavailable
from agent.models.openai_backend import OpenAICompatibleModel
from agent.models.spec import find_medgemma, load_model, models_dir, small_test_model_path
from tests.support.models_helpers import gemma_270m_path, smollm2_gguf_path


def test_none_means_the_rule_based_path() -> None:
    assert load_model("none") is None
    assert load_model(" None ") is None


def test_openai_specs_with_and_without_model() -> None:
    model = load_model("openai:http://localhost:8080/v1#medgemma-4b", timeout=5)
    assert isinstance(model, OpenAICompatibleModel)
    assert (model.base_url, model.model, model.timeout) == (
        "http://localhost:8080/v1",
        "medgemma-4b",
        5,
    )
    bare = load_model("openai:https://api.example/v1")
    assert isinstance(bare, OpenAICompatibleModel)
    assert bare.model is None


def test_openai_spec_needs_a_url() -> None:
    with pytest.raises(ValueError, match="needs an http"):
        load_model("openai:localhost:8080")


@pytest.mark.parametrize("spec", ["gpt-4", "model.bin", ""])
def test_unknown_specs_list_the_accepted_forms(spec: str) -> None:
    with pytest.raises(ValueError, match=r"Accepted forms: none .*medgemma .*\.gguf .*openai:"):
        load_model(spec)


def test_models_dir_honours_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EHR_AGENT_MODELS", str(tmp_path))
    assert models_dir() == tmp_path
    monkeypatch.delenv("EHR_AGENT_MODELS")
    assert models_dir().parts[-2:] == ("ehr-agent", "models") or "ehr-agent" in str(models_dir())


def test_medgemma_missing_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EHR_AGENT_MODELS", str(tmp_path / "empty"))
    with pytest.raises(ModelUnavailable, match=r"Cannot find the MedGemma 1\.5 4B GGUF") as info:
        load_model("medgemma")
    assert "ehr-agent model pull" in str(info.value)
    assert str(tmp_path / "empty") in str(info.value)


def test_medgemma_is_found_preferring_q4_k_m(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EHR_AGENT_MODELS", str(tmp_path))
    for name in (
        "mmproj-F16.gguf",
        "medgemma-1.5-4b-it-Q8_0.gguf",
        "medgemma-1.5-4b-it-Q4_K_M.gguf",
    ):
        (tmp_path / name).write_bytes(b"")
    assert find_medgemma() == tmp_path / "medgemma-1.5-4b-it-Q4_K_M.gguf"


def test_gguf_spec_with_a_missing_file_is_unavailable(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    with pytest.raises(ModelUnavailable, match="No model file"):
        load_model(str(tmp_path / "x.gguf"))


def test_gguf_spec_loads_the_real_model_with_options() -> None:
    model = load_model(str(gemma_270m_path()), n_ctx=256)
    assert model is not None
    assert model.name == "gguf:gemma-3-270m-q4_k_m.gguf"
    assert model.context_window == 256


def test_packaged_model_paths_are_real_ggufs() -> None:
    gemma = gemma_270m_path()
    assert gemma == small_test_model_path()  # assembled once, then reused
    assert gemma.parent == models_dir()
    assert gemma.stat().st_size > 200 * 2**20
    smol = smollm2_gguf_path()
    assert smol.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    for path in (gemma, smol):
        assert path.read_bytes()[:4] == b"GGUF"
