"""One question each, asked in the caller's wording: the asks every free-form set shares.

The sets (main, held-out, fresh) differ in wording and in how they pick what to ask
about; each function here takes that choice and the wordings, rules on the answer with
:mod:`agent.replay.freeform.referee`, and asks the question.  The template names the
question's id (``<template>.<wording index>``), ``params`` its parameters, so a set
keeps its own ids.  Random draws happen in a fixed order (the tie check before the
wording), so a set's questions do not change when it is routed through here.
"""

from __future__ import annotations

from typing import Any

from agent.replay.freeform.base import Asker
from agent.replay.freeform.facts import (
    Result,
    active_orders,
    conditions_matching,
    drug_words,
)
from agent.replay.freeform.referee import (
    absent_from_record,
    active_disorders,
    definite_extreme,
    definite_first,
    definite_last_two,
    definite_latest,
    threshold_hits,
    value_answer,
    with_words,
    yes_no_answer,
)
from agent.replay.model import ExpectedAnswer
from agent.replay.record import Resource

__all__ = [
    "ask_absent_condition",
    "ask_active_condition",
    "ask_brand",
    "ask_condition_words",
    "ask_extreme",
    "ask_first_result",
    "ask_last_two",
    "ask_latest",
    "ask_not_on_drug",
    "ask_on_drug",
    "ask_threshold",
    "ask_yes_no",
]

Wordings = tuple[str, ...]


def ask_latest(
    asker: Asker,
    kind: str,
    template: str,
    params: dict[str, Any],
    found: list[Result],
    wordings: Wordings | None,
    text: str = "",
    **values: Any,
) -> None:
    """The latest result (when one result holds that day), in one of ``wordings`` (or
    as ``text`` when ``wordings`` is None: a phrase that is the whole question)."""
    latest = definite_latest(found)
    if latest is None:
        return
    index = -1
    if wordings is not None:
        index, text = asker.pick(wordings, **values)
    answer = value_answer(latest)
    asker.ask(kind, f"{template}.{index}", params, text, answer, [latest.reference])


def ask_extreme(
    asker: Asker,
    template: str,
    params: dict[str, Any],
    found: list[Result],
    highest: bool,
    wordings: Wordings,
    name: str,
) -> None:
    """The highest (lowest) result, when one reading holds it."""
    at = definite_extreme(found, highest)
    if at is None:
        return
    index, text = asker.pick(wordings, name=name)
    references = [r.reference for r in at]
    asker.ask("extreme", f"{template}.{index}", params, text, value_answer(at[0]), references)


def ask_threshold(
    asker: Asker,
    template: str,
    params: dict[str, Any],
    found: list[Result],
    threshold_of: tuple[str, str, tuple[float, ...]],
    wordings: Wordings,
    name: str,
) -> None:
    """How many results are above (below) the first candidate threshold that splits
    them; ``threshold_of`` is (the params key it is recorded under, "above" or "below",
    the candidates)."""
    key, direction, candidates = threshold_of
    threshold, hits = threshold_hits(found, direction, candidates)
    index, text = asker.pick(wordings, name=name, t=f"{threshold:g}")
    asker.ask(
        "threshold",
        f"{template}.{index}",
        {**params, key: threshold},
        text,
        ExpectedAnswer("count", value=len(hits)),
        [r.reference for r in hits],
    )


def ask_last_two(
    asker: Asker,
    template: str,
    params: dict[str, Any],
    found: list[Result],
    wordings: Wordings,
    name: str,
) -> None:
    """The last two results compared, when no two of the last three share a day."""
    last = definite_last_two(found)
    if last is None:
        return
    index, text = asker.pick(wordings, name=name)
    asker.ask(
        "compare",
        f"{template}.{index}",
        params,
        text,
        ExpectedAnswer("series", points=tuple((r.day, r.number) for r in last)),
        [r.reference for r in last],
    )


def ask_first_result(
    asker: Asker,
    template: str,
    params: dict[str, Any],
    found: list[Result],
    wordings: Wordings,
    name: str,
) -> None:
    """The first result, when one result holds that day."""
    oldest = definite_first(found)
    if oldest is None:
        return
    index, text = asker.pick(wordings, name=name)
    answer = value_answer(oldest)
    asker.ask("first", f"{template}.{index}", params, text, answer, [oldest.reference])


def ask_yes_no(
    asker: Asker,
    kind: str,
    template: str,
    params: dict[str, Any],
    text: str,
    matched: list[tuple[str, Resource]],
) -> None:
    """A yes/no question: yes naming what makes it yes, or no."""
    answer, references = yes_no_answer(matched)
    asker.ask(kind, template, params, text, answer, references)


def ask_condition_words(
    asker: Asker, kind: str, template: str, text: str, words: tuple[str, ...]
) -> None:
    """ "Is she diabetic?": yes when a condition's display holds one of ``words``."""
    ask_yes_no(asker, kind, template, {}, text, conditions_matching(asker.record, *words))


def ask_active_condition(asker: Asker, wordings: Wordings, template: str) -> None:
    """ "Does she have X?" about one of her active disorders (short names only)."""
    active = active_disorders(asker.record)
    if not active:
        return
    condition = asker.rng.choice(sorted({n for n, _ in active}))
    matched = [(n, c) for n, c in active if n == condition]
    index, text = asker.pick(wordings, condition=condition.lower())
    params = {"condition": condition}
    ask_yes_no(asker, "yes_no", f"{template}.{index}", params, text, matched)


def ask_absent_condition(
    asker: Asker, wordings: Wordings, template: str, candidates: tuple[str, ...]
) -> None:
    """ "Does she have X?" about a disorder whose name is nowhere in the record: no."""
    absent = absent_from_record(asker, candidates)
    if not absent:
        return
    condition = asker.rng.choice(absent)
    index, text = asker.pick(wordings, condition=condition)
    ask_yes_no(asker, "yes_no", f"{template}.{index}", {"condition": condition}, text, [])


def ask_on_drug(asker: Asker, wordings: Wordings, template: str) -> None:
    """ "Is she on X?" about one of her active orders, the drug as a clinician says it."""
    orders = active_orders(asker.record)
    if not orders:
        return
    name, _ = asker.rng.choice(orders)
    drug = drug_words(name).lower()
    # Compared word for word ("insulin isophane human" is "Insulin Isophane, Human ..."):
    # a substring test missed the comma.
    matched = [(n, o) for n, o in orders if drug_words(n).lower() == drug]
    index, text = asker.pick(wordings, drug=drug)
    ask_yes_no(asker, "yes_no", f"{template}.{index}", {"drug": drug}, text, matched)


def ask_not_on_drug(
    asker: Asker, wordings: Wordings, template: str, candidates: tuple[str, ...]
) -> None:
    """ "Is she on X?" about a drug whose name is nowhere in the record: no."""
    never = absent_from_record(asker, candidates)
    if not never:
        return
    drug = asker.rng.choice(never)
    index, text = asker.pick(wordings, drug=drug)
    ask_yes_no(asker, "yes_no", f"{template}.{index}", {"drug": drug}, text, [])


def ask_brand(asker: Asker, wordings: Wordings, template: str, brand: str, generic: str) -> None:
    """ "Is she on <brand>?": yes when an active order names its generic."""
    matched = with_words(active_orders(asker.record), (generic,))
    index, text = asker.pick(wordings, brand=brand)
    ask_yes_no(asker, "drug_class", f"{template}.{index}", {"brand": brand}, text, matched)
