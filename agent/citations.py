"""Check an answer against the evidence: citations, then every number and date.

The model writes ``[n]`` aliases (or full ``[ResourceType/id]`` keys); this module

1. resolves each cited key to a reference retrieved in this thread, removing (and
   recording as unverified) any key that names nothing retrieved; a sentence left with
   no valid citation is a problem,
2. splits the answer into sentences and requires every number and date in a sentence to
   appear in the evidence lines that sentence cites (dates compared as ``YYYY-MM-DD``,
   numbers with trailing zeros normalised, so ``7.10`` matches ``7.1``),
3. rewrites the surviving citations as full ``[ResourceType/id]`` keys,
4. rejects answers that are not answers: a sentence that repeats a run of
   ``ECHO_WORDS`` consecutive words of the prompt's instructions or of the user turn's
   frame ("Question: ... Answer with citations:"; a small model may echo its prompt, and
   copy a real citation from it), and an answer that states something
   yet cites nothing although evidence was retrieved.

It is deterministic and knows nothing about models: the graph decides what to do with
the problems it reports (one repair prompt, then the extractive answer).  How the text
is read (sentences, dates, numbers) is :mod:`agent.answer_text`; what an answer may call
absent is :mod:`agent.absence`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from agent.absence import (
    KNOWN_TOPICS,
    denies_failed_topic,
    uncited_content,
    unsupported_uncited,
)
from agent.answer_text import (
    CITATION_BRACKET,
    claims_in,
    clean_draft,
    line_backing,
    normalise_number,
    rejoin,
    split_sentences,
    words,
)
from agent.claims import claim_problems, thread_vocabulary
from fhir_client.ids import REFERENCE_PATTERN

__all__ = [
    "DROPPED_NOTE",
    "ECHO_WORDS",
    "CitationCheck",
    "Verification",
    "verify_answer",
]

_KEY = re.compile(rf"\d{{1,4}}|{REFERENCE_PATTERN}")
# Six words in a row is a phrase, not a coincidence: "the evidence does not show" (5)
# is an ordinary answer, "using only the evidence lines given" (6) is the prompt.
ECHO_WORDS = 6
# Instruction phrases that are also honest answers, never counted as an echo.
_HONEST = ("the evidence does not answer the question", "the evidence given does not say")


@dataclass(frozen=True)
class CitationCheck:
    """One cited key: the reference it names (if any) and whether it was retrieved."""

    key: str
    reference: str
    verified: bool
    line: str | None


@dataclass
class Verification:
    """The answer with full references, every citation checked, and what is wrong.

    ``citations`` are the verified citations the answer text still carries, and only
    those: a key that named nothing retrieved, or that sat in a dropped sentence, is in
    ``removed`` (the audit of what the model tried) and never in the output contract's
    ``citations``.  ``dropped`` says why each unsupported sentence was removed; ``notes``
    is what the answer's notes should tell the reader.
    """

    text: str
    citations: list[CitationCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    removed: list[CitationCheck] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        notes = [f"Removed: {reason}" for reason in self.dropped]
        if self.removed:
            keys = ", ".join(f"[{c.key}]" for c in self.removed)
            notes.append(f"Removed citations of nothing retrieved in this conversation: {keys}")
        return notes

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def cited(self) -> list[str]:
        return [c.reference for c in self.citations if c.verified]


def _keys(inner: str) -> list[str] | None:
    keys = [k.strip() for k in re.split(r"[,;]", inner) if k.strip()]
    return keys if keys and all(_KEY.fullmatch(k) for k in keys) else None


def _shown(keys: Iterable[str]) -> str:
    return "".join(f"[{k}]" for k in keys)


def _phrases(texts: Iterable[str]) -> set[tuple[str, ...]]:
    """Every run of ``ECHO_WORDS`` consecutive words in ``texts``."""
    runs: set[tuple[str, ...]] = set()
    for text in texts:
        said = words(text)
        runs.update(tuple(said[i : i + ECHO_WORDS]) for i in range(len(said) - ECHO_WORDS + 1))
    return runs


def _echo(sentence: str, phrases: set[tuple[str, ...]]) -> str | None:
    """The first instruction phrase ``sentence`` repeats, if any."""
    said = words(sentence)
    for i in range(len(said) - ECHO_WORDS + 1):
        if tuple(said[i : i + ECHO_WORDS]) in phrases:
            return " ".join(said[i : i + ECHO_WORDS])
    return None


DROPPED_NOTE = (
    "Note: the evidence cited does not state everything the draft said; unsupported "
    "sentences were removed (see notes)."
)


def verify_answer(
    draft: str,
    *,
    resolve: Callable[[str], str | None],
    evidence: Mapping[str, str],
    allowed_numbers: Iterable[str] = (),
    instructions: Iterable[str] = (),
    own_words: Iterable[str] = (),
    failed_topics: Iterable[str] = (),
    searched_topics: Iterable[str] | None = None,
    require_citations: bool = False,
) -> Verification:
    """Check ``draft``; ``resolve`` maps a cited key to a reference (``None`` if unknown).

    ``evidence`` maps each reference retrieved in the thread to its line.
    ``allowed_numbers`` are numbers that need no evidence (those in the question, result
    counts); a sentence may also state how many sources it cites.  ``instructions`` are
    the prompt texts an answer must not repeat (the system texts and the user turn's
    frame around the evidence); ``own_words`` (the question) may be repeated even where
    an instruction text holds them, only the frame around them may not.
    ``failed_topics`` are lower-case words for what could not be retrieved ("allerg"): a
    sentence saying there is none of those is a problem, since the search failed rather
    than found nothing.
    ``searched_topics`` (same words, for the searches that ran) bounds what an answer may
    call absent: "no active medications" when no medication search ran is dropped.
    ``require_citations`` (a model's draft): an answer left citing nothing must read,
    sentence by sentence, as a report of what the record does not hold; "You are a
    patient with AFib." with nothing retrieved is not an answer.
    """
    failed_topics = tuple(failed_topics)
    draft = clean_draft(draft)
    allowed = {normalise_number(n) for n in allowed_numbers}
    phrases = _phrases(instructions) - _phrases((*_HONEST, *own_words))
    vocabulary = thread_vocabulary(evidence)
    unsearched: frozenset[str] | None = None
    if searched_topics is not None:
        unsearched = frozenset(KNOWN_TOPICS - set(searched_topics) - set(failed_topics))
    checks: dict[str, CitationCheck] = {}
    removed_checks: dict[str, CitationCheck] = {}
    problems: list[str] = []
    dropped: list[str] = []
    out_sentences: list[str] = []
    resolved: list[tuple[str, str, list[str], list[str], dict[str, CitationCheck]]] = []
    for sentence in split_sentences(draft):
        sentence_checks: dict[str, CitationCheck] = {}
        clean, cited, removed = _resolve_citations(sentence, resolve, evidence, sentence_checks)
        resolved.append((sentence, clean, cited, removed, sentence_checks))
    backing = line_backing(draft, [cited for _, _, cited, _, _ in resolved])
    for (sentence, clean, cited_refs, removed, sentence_checks), backed_by in zip(
        resolved, backing, strict=True
    ):
        for ref, check in sentence_checks.items():
            if not check.verified:
                removed_checks.setdefault(ref, check)
        denied = denies_failed_topic(sentence, failed_topics)
        if denied:
            problems.append(
                f"{sentence!r} says there is none, but the search for {denied!r} failed; "
                "say that it could not be retrieved instead."
            )
        echoed = _echo(sentence, phrases)
        if echoed:
            problems.append(
                f"{sentence!r} repeats the instructions ({echoed!r}); answer the question "
                "from the evidence lines instead."
            )
        unsupported = claim_problems(sentence, backed_by, evidence, vocabulary, unsearched)
        if unsupported:
            dropped.extend(unsupported)
            out_sentences.append("")
            continue
        for ref, check in sentence_checks.items():
            if check.verified:
                checks.setdefault(ref, check)
        for key in removed if not cited_refs else ():
            problems.append(
                f"[{key}] in {sentence!r} is not evidence retrieved in this conversation; "
                "cite only the numbered evidence lines."
            )
        problems.extend(_grounding_problems(sentence, cited_refs, evidence, allowed, removed))
        out_sentences.append(clean)
    text = rejoin(draft, out_sentences)
    verified = list(checks.values())
    if dropped and not text.strip():
        problems.append(
            "Every sentence states something the evidence it cites does not: "
            + "; ".join(dropped[:3])
        )
    elif dropped:
        text = f"{text}\n\n{DROPPED_NOTE}"
    if evidence and not verified and not problems and uncited_content(text):
        problems.append(
            f"The answer cites no evidence although {len(evidence)} evidence line(s) were "
            "retrieved; cite the line each fact comes from, or say that the evidence does "
            "not answer the question."
        )
    elif require_citations and not verified and not problems:
        # An answer that cites nothing may only say what the record does not hold.
        problems.extend(
            f"{sentence!r} states something but cites no evidence; cite the line it comes "
            "from, or say what the record does not show."
            for sentence in unsupported_uncited(text)[:3]
        )
    return Verification(
        text=text,
        citations=verified,
        problems=problems,
        removed=list(removed_checks.values()),
        dropped=dropped,
    )


def _resolve_citations(
    sentence: str,
    resolve: Callable[[str], str | None],
    evidence: Mapping[str, str],
    checks: dict[str, CitationCheck],
) -> tuple[str, list[str], list[str]]:
    """The sentence with full references, the references it cites, the keys removed."""
    cited: list[str] = []
    removed: list[str] = []

    def rewrite(match: re.Match[str]) -> str:
        keys = _keys(match.group(1))
        if keys is None:
            return match.group(0)  # brackets that are not citations, e.g. "[sic]"
        kept: list[str] = []
        for key in keys:
            reference = resolve(key)
            verified = reference is not None and reference in evidence
            ref = reference if reference is not None else key
            line = evidence.get(ref) if verified else None
            checks.setdefault(ref, CitationCheck(key, ref, verified, line))
            if verified:
                kept.append(ref)
                cited.append(ref)
            else:
                removed.append(key)
        return " " + _shown(kept) if kept else ""

    return CITATION_BRACKET.sub(rewrite, sentence).strip(), cited, removed


def _grounding_problems(
    sentence: str,
    cited: list[str],
    evidence: Mapping[str, str],
    allowed: set[str],
    removed: list[str],
) -> list[str]:
    dates, numbers = claims_in(sentence)
    support_dates: list[str] = []
    support_numbers: set[str] = set()
    for reference in cited:
        d, n = claims_in(evidence[reference])
        support_dates.extend(d)
        support_numbers.update(n)
    years = {d[:4] for d in support_dates}
    allowed_here = allowed | {str(len(set(cited)))}
    dates = [d for d in dates if d not in allowed]  # the question's own window
    if (dates or [n for n in numbers if n not in allowed_here]) and not cited:
        if removed:
            return []  # already reported: its only citations named nothing retrieved
        return [f"{sentence!r} states a number or date but cites no evidence."]
    problems: list[str] = []
    for day in dates:
        if not any(s.startswith(day) for s in support_dates):
            problems.append(f"The date {day} in {sentence!r} is not in the evidence it cites.")
    for number in numbers:
        if number in support_numbers or number in allowed_here or number in years:
            continue
        problems.append(f"The number {number} in {sentence!r} is not in the evidence it cites.")
    return problems
