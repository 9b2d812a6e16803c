"""The scale benches run end to end in their CI size (``--quick``) and print their figures.

Each is a subprocess, as a user runs it; the figures themselves are not asserted (they
belong to the machine), only that each bench completes and reports what it promises.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_population_quick_prints_rate_size_search_and_replay() -> None:
    out = _run("population.py")
    for promised in (
        "resources/s",
        "x raw JSON",
        "patient-scoped search",
        "questions/s",
        "`ehr-agent patients` median",
        "in a worker (load --background-validation)",
    ):
        assert promised in out, out


def test_lifetime_answers_quick_prints_both_targets() -> None:
    out = _run("lifetime_answers.py")
    assert "ask --model none, all questions: p50" in out, out
    assert "summary: p50" in out, out
    assert "peak RSS of the loading process" in out, out


def test_model_speed_quick_compares_every_variant_with_today() -> None:
    pytest.importorskip("llama_cpp")
    out = _run("model_speed.py")
    for variant in ("today", "prefix-cache", "prompt-lookup", "both"):
        assert variant in out, out
    # Greedy decoding: every option gives today's answers.
    assert " NO" not in out, out


def test_load_memory_quick_prints_peak_rss_against_the_record() -> None:
    out = _run("load_memory.py")
    assert "peak RSS" in out and "MiB per 10,000 resources" in out, out
    assert "MiB per MB of largest entry" in out, out


def test_record_cache_memory_quick_prints_each_kept_record() -> None:
    out = _run("record_cache_memory.py")
    assert "kept records (RECORD_CACHE_ENTRIES" in out and "peak RSS" in out, out
