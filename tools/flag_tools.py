"""The result-flag tool: which results the record itself marks out of range.

"Any abnormal labs?" is answered from the record's own word (an interpretation, or a
value outside the result's own reference range: :mod:`tools.result_flags`), never from a
range this product knows, and the answer says how many results were looked at and how
many the record gives no range for.  A mixin of ``PatientToolset`` with one concern.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from tools.declare import DateText, ListLimit, Phrasing, tool
from tools.evidence import Evidence, ToolResult
from tools.formatting import format_resource
from tools.matching import date_params
from tools.result_flags import judge, outside_range
from tools.toolset_base import ToolsetBase, _dated_in, _window_words

__all__ = ["ResultFlagTools"]


class ResultFlagTools(ToolsetBase):
    """``flagged_results`` (see the module docstring)."""

    @tool(
        noun="flagged results",
        kind="event",
        topics=("abnormal", "out of range", "flagged", "lab", "result", "vital"),
        phrasing=Phrasing(listed="results the record flags", reports=True),
    )
    async def flagged_results(
        self,
        category: Literal["laboratory", "vital-signs"] = "laboratory",
        since: DateText | None = None,
        until: DateText | None = None,
        limit: ListLimit = 20,
    ) -> ToolResult:
        """Results the record itself marks out of range (an interpretation such as H, L,
        abnormal, or a value outside the result's own reference range), newest first,
        with how many results were looked at and how many the record gives no range
        for. category: laboratory (default) or vital-signs. since/until: YYYY[-MM[-DD]]."""
        params = {"category": category, **date_params(since, until), "_sort": "-date"}
        resources, truncated = await self._scan("Observation", params, _dated_in(since, until))
        judged = [(r, judge(r)) for r in resources]
        flagged = [_with_range(format_resource(r)) for r, j in judged if j.flagged]
        unjudged = sum(1 for _, j in judged if not j.judgeable)
        return ToolResult(
            tool="flagged_results",
            summary=f"Flagged {category} results{_window_words(since, until)}: "
            f"{len(flagged[:limit])} item(s)",
            items=tuple(flagged[:limit]),
            truncated=len(flagged) > limit,
            total_available=len(flagged),
            notes=_flag_notes(
                _FLAG_NOUNS[category]
                + _window_words(since, until).replace(", ", " (", 1)
                + (")" if since or until else ""),
                (len(resources), len(flagged), unjudged),
                truncated=truncated,
            ),
        )


def _with_range(evidence: Evidence) -> Evidence:
    """The line with the range it falls outside appended, when the record gives one and
    the line does not already carry the record's interpretation."""
    flag = outside_range(evidence.resource)
    if not flag or "(" in evidence.value:
        return evidence
    return replace(evidence, text=f"{evidence.text} {flag}", value=f"{evidence.value} {flag}")


_FLAG_NOUNS = {"laboratory": "laboratory results", "vital-signs": "vital-sign readings"}


def _flag_notes(noun: str, counts: tuple[int, int, int], *, truncated: bool) -> tuple[str, ...]:
    """What was looked at and what the record does not say, as sentences an answer uses.
    ``counts`` is (results looked at, flagged, without interpretation or range)."""
    looked, flagged, unjudged = counts
    seen = f"{looked} {'most recent ' if truncated else ''}{noun}"
    if looked == 0:
        return (f"No {noun} are recorded.",)
    if unjudged == looked:
        return (
            f"None of the {seen} carries an interpretation or a reference range, so the "
            "record does not say whether any is out of range; none is judged here.",
        )
    head = (
        f"{flagged} of the {seen} are flagged out of range by the record."
        if flagged
        else f"None of the {seen} is flagged out of range by the record."
    )
    if not unjudged:
        return (head,)
    return (
        head,
        f"{unjudged} of them carry no interpretation and no reference range: the record "
        "does not say whether they are in range, and none is judged here.",
    )
