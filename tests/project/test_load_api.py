"""A short run of ``bench/api_load.py``: 20 concurrent clients, 0 errors, reads flowing.

Issue 7's load target, kept as a test so a regression (a lock held across an answer,
a checkpointer that serialises threads badly, a store connection shared unsafely)
shows up as errors or a starved reader here rather than in a user's browser.  The
server is the real ``ehr-agent serve`` subprocess (model ``none``) over a copy of the
fixture store the API tests also use; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.api_server import store_copy

BENCH = Path(__file__).resolve().parents[2] / "bench" / "api_load.py"
CLIENTS = 20
SECONDS = 8.0


def _bench() -> ModuleType:
    """``bench/`` is scripts, not a package: load the script as a module."""
    spec = importlib.util.spec_from_file_location("api_load_under_test", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_twenty_clients_get_no_errors_and_reads_keep_flowing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    bench = _bench()
    db = store_copy(tmp_path_factory.mktemp("load"), tmp_path_factory.getbasetemp())
    with bench.serving(db) as base_url:
        result = asyncio.run(bench.run_load(base_url, CLIENTS, SECONDS, seed=7))
    report = bench.format_result(result)
    print(report)  # the numbers, with -s
    assert result.errors == 0, report
    assert result.clients == CLIENTS
    assert all(stats.count > 0 for stats in result.stats.values()), report
    # The reader ran the whole time: reads were served while the agent was answering.
    assert result.reader_completed() >= 20, report
    assert result.seconds >= SECONDS


def test_the_bench_refuses_a_non_loopback_url() -> None:
    bench = _bench()
    with pytest.raises(SystemExit, match="loopback"):
        asyncio.run(bench.run_load("http://example.org", 1, 1.0))


def test_percentile_is_nearest_rank() -> None:
    bench = _bench()
    values = [float(v) for v in range(1, 101)]
    assert bench.percentile(values, 0.5) == 50.0
    assert bench.percentile(values, 0.95) == 95.0
    assert bench.percentile([], 0.95) == 0.0
