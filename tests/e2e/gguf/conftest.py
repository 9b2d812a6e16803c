"""Tests that run a real GGUF through llama.cpp: the pip-installed Gemma 3 270M in-process
(llama-cpp-python) or behind llama.cpp's own ``llama-server``.

Without llama-cpp-python or the GGUF the tests skip with the reason
(``tests.support.models_helpers.gemma_270m_path``).  ``llama-server`` is opt-in: building
it takes about 20 minutes on 2 cores, so its tests skip unless
``EHR_AGENT_REQUIRE_LLAMA_SERVER=1`` (the cached build, or a fresh one) or
``EHR_AGENT_LLAMA_SERVER=/path/to/llama-server`` says to run them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from agent.models.base import ChatModel
from tests.support.llama_server import cache_dir, ensure_llama_server, installed_version
from tests.support.models_helpers import GEMMA_CONTEXT, gemma_270m_path


@pytest.fixture(scope="module")
def gemma_270m() -> ChatModel:
    """The Gemma 3 270M GGUF loaded through llama-cpp-python, once per module."""
    from agent.models.spec import load_model

    model = load_model(str(gemma_270m_path()), n_ctx=GEMMA_CONTEXT)
    assert model is not None
    return model


@pytest.fixture(scope="module")
def llama_server_binary() -> Path:
    """The user's ``llama-server``, the cached build, or (when required) a build; else skip."""
    if os.environ.get("EHR_AGENT_LLAMA_SERVER"):
        return ensure_llama_server()
    cached = cache_dir(installed_version()) / "llama-server"
    if os.environ.get("EHR_AGENT_REQUIRE_LLAMA_SERVER") != "1":
        pytest.skip(
            "opt-in (about 20 minutes on a 2-core CPU): set EHR_AGENT_REQUIRE_LLAMA_SERVER=1 "
            f"to use {cached} (`python tests/support/llama_server.py` builds it) or "
            "EHR_AGENT_LLAMA_SERVER=/path/to/llama-server"
        )
    if cached.exists():
        return cached
    missing = [tool for tool in ("cmake", "c++") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"building llama-server needs {', '.join(missing)}")
    return ensure_llama_server()
