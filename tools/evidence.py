"""Evidence: what a tool hands back, one short citable line per FHIR resource.

The model never sees FHIR JSON.  It sees lines like
``2023-04-02 HbA1c 6.4 % (H) [Observation/abc]`` and must cite the bracketed key; the
agent then checks every citation against the keys the tools actually returned.  So each
line carries exactly one reference (or, for a series, one per point, right after the value
it supports), and the raw resource rides along for the API/UI but out of ``repr``/``==``.

``text`` is the clinical part without the citation; ``line`` is what the model reads.  They
are separate so an agent may cite with short aliases (``[3]``) instead of long Synthea
UUIDs: see ``render``'s ``cite`` argument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tools.inert_text import fhir_date, inert_field, inert_line

__all__ = [
    "Cite",
    "Evidence",
    "EvidenceSeries",
    "ReferenceAliases",
    "ToolResult",
    "collapse_series",
    "full_reference",
    "inert_text",
    "render_items",
]

Cite = Callable[[str], str]


def full_reference(reference: str) -> str:
    """The default citation: the ``ResourceType/id`` itself."""
    return reference


def inert_text(text: str) -> str:
    """Resource text made unable to act as prompt structure, markup or a citation.

    Kept for callers of the old name; :mod:`tools.inert_text` is the one place.
    """
    return inert_line(text)


@dataclass(frozen=True)
class Evidence:
    """One FHIR resource as one line.

    ``label`` and ``value`` are the parts a series line reuses ("HbA1c", "6.4 % (H)");
    ``text`` is the full line without citation.
    """

    reference: str
    text: str
    date: str | None
    kind: str
    label: str = ""
    value: str = ""
    resource: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Record text is data. Formatters make each field inert (tools.inert_text); every
        # line a model or an answer will quote passes here again, so a field a formatter
        # forgot is still single-line, marker-free, bracket-free and bounded.
        object.__setattr__(self, "text", inert_line(self.text))
        object.__setattr__(self, "value", inert_line(self.value))
        object.__setattr__(self, "label", inert_field(self.label))
        object.__setattr__(self, "date", fhir_date(self.date))

    @property
    def references(self) -> tuple[str, ...]:
        return (self.reference,)

    @property
    def line(self) -> str:
        return self.render()

    @property
    def undated_text(self) -> str:
        """The text without its leading date (used when lines are grouped under a date)."""
        if self.date and self.text.startswith(self.date + " "):
            return self.text[len(self.date) + 1 :]
        return self.text

    def render(self, cite: Cite = full_reference) -> str:
        return f"{self.text} [{cite(self.reference)}]"


class ReferenceAliases:
    """Short citation keys (``1``, ``2``, ...) for one answer, mapped back to references.

    A Synthea reference costs about 36 Gemma tokens (digits tokenize one by one), more than
    the clinical text of its line; citing ``[12]`` costs 4.  The agent renders tool results
    with ``cite=aliases.cite`` and turns the model's ``[12]`` back into ``Observation/...``
    with ``resolve`` before checking citations.
    """

    def __init__(self) -> None:
        self._by_reference: dict[str, str] = {}
        self._by_alias: dict[str, str] = {}

    def cite(self, reference: str) -> str:
        alias = self._by_reference.get(reference)
        if alias is None:
            alias = str(len(self._by_reference) + 1)
            self._by_reference[reference] = alias
            self._by_alias[alias] = reference
        return alias

    def resolve(self, alias: str) -> str | None:
        """The reference behind an alias (or the input itself if it is a known reference)."""
        key = alias.strip().strip("[]")
        if key in self._by_alias:
            return self._by_alias[key]
        return key if key in self._by_reference else None

    def __len__(self) -> int:
        return len(self._by_reference)


@dataclass(frozen=True)
class EvidenceSeries:
    """Repeated results of one test as one line, every point keeping its own citation.

    ``HbA1c (%): 2019-03-01 6.1 [Observation/a], 2020-03-02 6.4 [Observation/b]``: the
    model can still cite the exact result behind a number, and the per-resource keys stay
    retrievable through ``points``.
    """

    label: str
    points: tuple[Evidence, ...]
    unit: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", inert_field(self.label))
        object.__setattr__(self, "unit", inert_field(self.unit))

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(p.reference for p in self.points)

    @property
    def kind(self) -> str:
        return self.points[0].kind if self.points else ""

    @property
    def date(self) -> str | None:
        return self.points[-1].date if self.points else None

    @property
    def text(self) -> str:
        return self._text(None)

    @property
    def line(self) -> str:
        return self.render()

    def _text(self, cite: Cite | None) -> str:
        head = f"{self.label} ({self.unit})" if self.unit else self.label
        parts = []
        for point in self.points:
            value = _strip_unit(point.value, self.unit)
            # An undated point (the record of a person itself) shows its value alone.
            part = " ".join(p for p in (point.date, value) if p) or "?"
            if cite is not None:
                part += f" [{cite(point.reference)}]"
            parts.append(part)
        return f"{head}: " + ", ".join(parts)

    def render(self, cite: Cite = full_reference) -> str:
        return self._text(cite)


def _strip_unit(value: str, unit: str) -> str:
    if unit and value.endswith(" " + unit):
        return value[: -len(unit) - 1]
    return value


def _unit_of(value: str) -> str:
    """The unit a formatted value ends with ("6.4 %" -> "%"), else ""."""
    head, _, tail = value.partition(" ")
    if not head or not tail or "(" in tail:
        return ""
    return tail


Item = Evidence | EvidenceSeries


def render_items(items: Iterable[Item], cite: Cite = full_reference) -> list[str]:
    """One text line per date: consecutive single records of one day share the date.

    ``2023-04-02: HbA1c 6.4 % [1]; LDL 130 mg/dL [2]``.  A date costs about 10 Gemma
    tokens (every digit is a token), so a visit's results printed under one date are
    markedly cheaper than one dated line each.  Series lines carry their own dates.
    """
    lines: list[str] = []
    group_date: str | None = None
    group: list[str] = []

    def flush() -> None:
        if group:
            lines.append(f"{group_date}: " + "; ".join(group) if len(group) > 1 else group[0])

    for item in items:
        if isinstance(item, Evidence) and item.date and item.undated_text != item.text:
            if item.date == group_date:
                if len(group) == 1:  # the first member was rendered with its date
                    group[0] = group[0][len(item.date) + 1 :]
                group.append(f"{item.undated_text} [{cite(item.reference)}]")
                continue
            flush()
            group_date, group = item.date, [item.render(cite)]
            continue
        flush()
        group_date, group = None, []
        lines.append(item.render(cite))
    flush()
    return lines


def collapse_series(evidence: Iterable[Evidence], *, min_points: int = 3) -> list[Item]:
    """Merge results that share a label into one series line, oldest first.

    Groups smaller than ``min_points`` stay as single lines: a series header costs tokens
    that only pay off from about three points.  Series keep the order of their first point.
    """
    groups: dict[str, list[Evidence]] = {}
    order: list[str] = []
    for item in evidence:
        key = item.label or item.reference
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(item)
    result: list[Item] = []
    for key in order:
        members = groups[key]
        if len(members) < min_points or not all(m.value for m in members):
            result.extend(members)
            continue
        members = sorted(members, key=lambda e: e.date or "")
        units = {_unit_of(m.value) for m in members}
        unit = units.pop() if len(units) == 1 else ""
        result.append(EvidenceSeries(label=key, points=tuple(members), unit=unit))
    return result


@dataclass(frozen=True)
class ToolResult:
    """What a tool returns: a one-line header, the evidence, and honesty flags.

    ``truncated`` says more matching records exist than were returned (the model should
    say "the most recent N" rather than "all"); ``total_available`` is the server's count
    when known.  ``notes`` carries actionable messages (e.g. "no lab named X; try ...").
    """

    tool: str
    summary: str
    items: tuple[Item, ...] = ()
    truncated: bool = False
    total_available: int | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Headers and notes may name what the record holds ("no lab named X; try Y").
        object.__setattr__(self, "summary", inert_line(self.summary))
        object.__setattr__(self, "notes", tuple(inert_line(n) for n in self.notes))

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def evidence(self) -> list[Evidence]:
        """Every single-resource record, series flattened."""
        flat: list[Evidence] = []
        for item in self.items:
            flat.extend(item.points if isinstance(item, EvidenceSeries) else (item,))
        return flat

    @property
    def references(self) -> list[str]:
        return [e.reference for e in self.evidence]

    def render(self, cite: Cite = full_reference, *, group_dates: bool = True) -> str:
        """The text block the model reads: header, notes, then the evidence lines.

        With ``group_dates``, records of the same day share one dated line (see
        ``render_items``); otherwise every record is its own line.
        """
        header = self.summary
        if self.truncated:
            shown = len(self.evidence)
            total = f" of {self.total_available}" if self.total_available is not None else ""
            header += f" (showing {shown}{total}; more exist)"
        body = (
            render_items(self.items, cite)
            if group_dates
            else [item.render(cite) for item in self.items]
        )
        return "\n".join([header, *self.notes, *body])
