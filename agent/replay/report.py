"""The replay report: aggregate scores, the JSON file, a Markdown summary, a comparison.

JSON shape (stable, so ``--compare`` can read reports of earlier runs)::

    {"meta": {...}, "overall": {questions, answer_correct, evidence_recall,
     citation_validity, citation_recall, uncited, errors, fallbacks, invalid_plans,
     unverified_citations, latency_p50, latency_p95, prompt_tokens, completion_tokens},
     "by_category": {name: {same keys}},
     "questions": [{id, patient_id, category, text, expected, expected_references,
                    actual: {answer, citations, evidence, ...}, score, latency_seconds}]}

``citation_validity`` averages only answers that cite something (``uncited`` counts the
others), so an answer that cites nothing never inflates it.  With a model, three counts
say where it failed and the product degraded: ``invalid_plans`` (planning steps whose
grammar-constrained output was rejected), ``fallbacks`` (answers replaced by the
extractive one) and ``unverified_citations`` (citations not verified by the agent or not
naming a resource of the record; the target is zero).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.replay.runner import QuestionResult

__all__ = [
    "Comparison",
    "build_report",
    "compare_reports",
    "comparison_markdown",
    "load_report",
    "markdown_summary",
    "summarize",
    "write_report",
]

SCORE_KEYS = ("answer_correct", "evidence_recall", "citation_validity", "citation_recall")


def _percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear-interpolated percentile (``None`` for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 4)


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """The aggregate scores of ``results`` (means over questions)."""
    latencies = [r.latency_seconds for r in results if r.error is None]
    validity = [r.score.citation_validity for r in results if r.score.citation_validity is not None]
    return {
        "questions": len(results),
        "answer_correct": _mean([float(r.score.answer_correct) for r in results]),
        "evidence_recall": _mean([r.score.evidence_recall for r in results]),
        "citation_validity": _mean(validity),
        "citation_recall": _mean([r.score.citation_recall for r in results]),
        "uncited": sum(1 for r in results if r.score.citations == 0),
        "errors": sum(1 for r in results if r.error is not None),
        "fallbacks": sum(1 for r in results if r.fallback),
        "invalid_plans": sum(r.invalid_plans for r in results),
        "unverified_citations": sum(len(r.score.invalid_citations) for r in results),
        "false_absence": sum(1 for r in results if r.score.false_absence),
        "different_person": sum(1 for r in results if r.score.different_person),
        "latency_p50": _percentile(latencies, 0.5),
        "latency_p95": _percentile(latencies, 0.95),
        "prompt_tokens": sum(r.tokens.get("prompt_tokens", 0) for r in results),
        "completion_tokens": sum(r.tokens.get("completion_tokens", 0) for r in results),
    }


def build_report(results: Sequence[QuestionResult], meta: dict[str, Any]) -> dict[str, Any]:
    categories: dict[str, list[QuestionResult]] = {}
    for result in results:
        categories.setdefault(result.question.category, []).append(result)
    return {
        "meta": meta,
        "overall": summarize(results),
        "by_category": {name: summarize(items) for name, items in categories.items()},
        "questions": [r.to_json() for r in results],
    }


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def markdown_summary(report: dict[str, Any], *, failures_shown: int = 30) -> str:
    """A per-category table and the wrong answers with the reason each was scored wrong."""
    meta = report.get("meta", {})
    lines = [
        f"# Replay report: model `{meta.get('model', '?')}`",
        "",
        f"{meta.get('patients', '?')} patients from {meta.get('source', '?')}, "
        f"generated {meta.get('generated_at', '?')}.",
        "",
        "| category | questions | answer correct | evidence recall | citation validity "
        "| citation recall | uncited | p50 s | p95 s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [*sorted(report["by_category"].items()), ("**overall**", report["overall"])]
    for name, stats in rows:
        lines.append(
            f"| {name} | {stats['questions']} | "
            + " | ".join(_cell(stats[k]) for k in SCORE_KEYS)
            + f" | {stats['uncited']} | {_cell(stats['latency_p50'])} "
            f"| {_cell(stats['latency_p95'])} |"
        )
    overall = report["overall"]
    lines += [
        "",
        f"Invalid plans: {overall.get('invalid_plans', '-')}; fallbacks to the extractive "
        f"answer: {overall.get('fallbacks', '-')}; unverified citations: "
        f"{overall.get('unverified_citations', '-')}.",
    ]
    wrong = [q for q in report["questions"] if not q["score"]["answer_correct"]]
    if wrong:
        lines += ["", f"## Wrong answers ({len(wrong)})", ""]
        for item in wrong[:failures_shown]:
            reasons = "; ".join(item["score"]["problems"]) or "?"
            lines.append(f"- `{item['id']}` ({item['category']}) {item['text']} -- {reasons}")
        if len(wrong) > failures_shown:
            lines.append(f"- ... and {len(wrong) - failures_shown} more (see the JSON report)")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], path: Path) -> Path:
    """Write the JSON report and its Markdown summary next to it; return the summary path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    summary = path.with_suffix(".md")
    summary.write_text(markdown_summary(report), encoding="utf-8")
    return summary


def load_report(path: Path) -> dict[str, Any]:
    """A report written by an earlier run; actionable error if it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read replay report {path}: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise ValueError(f"{path} is not a replay report (no 'questions' list)")
    return data


@dataclass(frozen=True)
class Comparison:
    regressions: list[dict[str, Any]]
    improvements: list[dict[str, Any]]
    only_old: int
    only_new: int
    deltas: dict[str, dict[str, float | None]]  # category (and "overall") -> score -> new-old


def _delta(new: Any, old: Any) -> float | None:
    if new is None or old is None:
        return None
    return round(float(new) - float(old), 4)


def compare_reports(old: dict[str, Any], new: dict[str, Any]) -> Comparison:
    """Per question id: correct -> wrong is a regression, wrong -> correct an improvement."""
    before = {q["id"]: q for q in old["questions"]}
    after = {q["id"]: q for q in new["questions"]}
    regressions, improvements = [], []
    for qid, item in after.items():
        previous = before.get(qid)
        if previous is None:
            continue
        was, now = previous["score"]["answer_correct"], item["score"]["answer_correct"]
        entry = {
            "id": qid,
            "category": item["category"],
            "text": item["text"],
            "patient_id": item["patient_id"],
            "problems": item["score"]["problems"],
        }
        if was and not now:
            regressions.append(entry)
        elif now and not was:
            improvements.append(entry)
    deltas: dict[str, dict[str, float | None]] = {}
    pairs = [("overall", old.get("overall", {}), new.get("overall", {}))]
    pairs += [
        (name, old.get("by_category", {}).get(name, {}), stats)
        for name, stats in new.get("by_category", {}).items()
    ]
    for name, old_stats, new_stats in pairs:
        deltas[name] = {k: _delta(new_stats.get(k), old_stats.get(k)) for k in SCORE_KEYS}
    return Comparison(
        regressions=regressions,
        improvements=improvements,
        only_old=len(set(before) - set(after)),
        only_new=len(set(after) - set(before)),
        deltas=deltas,
    )


def comparison_markdown(comparison: Comparison) -> str:
    lines = [
        f"## Compared with the earlier report: {len(comparison.regressions)} regression(s), "
        f"{len(comparison.improvements)} improvement(s)",
        "",
    ]
    if comparison.only_old or comparison.only_new:
        lines += [
            f"({comparison.only_old} questions only in the old report, "
            f"{comparison.only_new} only in the new one.)",
            "",
        ]
    for title, entries in (
        ("Regressions", comparison.regressions),
        ("Improvements", comparison.improvements),
    ):
        if entries:
            lines += [f"### {title}", ""]
            lines += [f"- `{e['id']}` ({e['category']}) {e['text']}" for e in entries]
            lines.append("")
    overall = comparison.deltas.get("overall", {})
    lines.append(
        "Overall change: " + ", ".join(f"{k} {v:+.3f}" for k, v in overall.items() if v is not None)
    )
    return "\n".join(lines) + "\n"
