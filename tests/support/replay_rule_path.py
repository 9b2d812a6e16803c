"""One rule-path replay (``--model none``) of a free-form set over named datasets.

The free-form, held-out and fresh set tests each replay their set over real Synthea
patients in the embedded store and assert on the report; this is that run, once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agent.replay.bundles import records_from_bundles
from agent.replay.report import build_report
from agent.replay.runner import Checkpoint, plan_records, run_replay
from tests.support.tools_datasets import DATASET_DIRECTORIES, load_dataset


def rule_path_report(
    datasets: tuple[str, ...],
    checkpoint_dir: Path,
    meta: dict[str, Any],
    **plan_options: bool,
) -> dict[str, Any]:
    """Replay the set ``plan_options`` selects (``freeform=True``, ``heldout=True``,
    ``fresh_set=True``) over ``datasets`` and build its report with ``meta``."""
    from agent.replay.answerer import AgentAnswerer
    from fhir_client.embedded import embedded_client

    loaded = {name: load_dataset(name) for name in datasets}

    async def run() -> list[Any]:
        results: list[Any] = []
        for name, dataset in loaded.items():
            records = records_from_bundles(DATASET_DIRECTORIES[name])
            plans = plan_records(records, templates=False, **plan_options)
            async with embedded_client(dataset.store) as client:
                checkpoint = Checkpoint(checkpoint_dir / f"{name}.jsonl", "none")
                results += await run_replay(plans, AgentAnswerer(client, None), checkpoint)
        return results

    try:
        results = asyncio.run(run())
    finally:
        for dataset in loaded.values():
            dataset.store.close()
    return build_report(results, meta)
