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
the problems it reports (one repair prompt, then the extractive answer).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from agent.claims import claim_problems, thread_vocabulary
from agent.reading.periods import MONTH_NUMBERS
from fhir_client.ids import REFERENCE_PATTERN
from tools.inert_text import LOW_QUOTES, strip_special_tokens
from tools.registry import TOOLS, spec_of

__all__ = [
    "DROPPED_NOTE",
    "ECHO_WORDS",
    "CitationCheck",
    "Verification",
    "claims_in",
    "clean_draft",
    "failed_topics",
    "normalise_number",
    "split_sentences",
    "verify_answer",
]

_BRACKET = re.compile(r"\s?\[([^\[\]\n]{1,200})\]")
_KEY = re.compile(rf"\d{{1,4}}|{REFERENCE_PATTERN}")
_MONTHS = MONTH_NUMBERS  # one table of month words, owned by the reading's periods
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_FORMS = (
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2}))?(?:T[\d:.+\-Z]*)?\b"),
    re.compile(r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\b"),
    re.compile(_MONTH + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})\b", re.IGNORECASE),
    re.compile(r"\b(?P<d>\d{1,2})\s+" + _MONTH + r",?\s+(?P<y>\d{4})\b", re.IGNORECASE),
    re.compile(_MONTH + r",?\s+(?P<y>\d{4})\b", re.IGNORECASE),
)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?!\w)")
# Six words in a row is a phrase, not a coincidence: "the evidence does not show" (5)
# is an ordinary answer, "using only the evidence lines given" (6) is the prompt.
ECHO_WORDS = 6
_WORD = re.compile(r"[a-z0-9']+")
# Instruction phrases that are also honest answers, never counted as an echo.
_HONEST = ("the evidence does not answer the question", "the evidence given does not say")
# What an absence report speaks of: the record, the search or the evidence.
_ABOUT_RECORD = re.compile(
    r"\b(?:record|records|recorded|chart|charted|file|documented|documentation|evidence|"
    r"found|listed|retrieved|search|searched|history|entries|results)\b",
    re.IGNORECASE,
)
# How an honest answer without citations reads: it says what is missing.
_ABSENCE = re.compile(
    r"\b(?:no|not|none|nothing|neither|cannot|can't|unable|missing|unknown|without|"
    r"absent|could not|does not|doesn't|isn't|aren't|wasn't|weren't)\b",
    re.IGNORECASE,
)


def normalise_number(token: str) -> str:
    """``"7.10"`` -> ``"7.1"``, ``"7.0"`` -> ``"7"``, ``"1,200"`` -> ``"1200"``."""
    text = token.replace(",", "")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    whole, dot, fraction = text.partition(".")
    return (whole.lstrip("0") or "0") + (dot + fraction if fraction else "")


def _dates_and_rest(text: str) -> tuple[list[str], str]:
    """Dates in ``text`` as ISO prefixes, and the text with them blanked out."""
    found: list[str] = []

    def take(match: re.Match[str]) -> str:
        parts = match.groupdict()
        month = parts.get("m") or _MONTHS.get((parts.get("month") or "").lower().rstrip("."))
        iso = f"{int(parts['y']):04d}-{int(month or 0):02d}"
        if parts.get("d"):
            iso += f"-{int(parts['d']):02d}"
        found.append(iso)
        return " "

    for form in _DATE_FORMS:
        text = form.sub(take, text)
    return found, text


def claims_in(text: str) -> tuple[list[str], list[str]]:
    """The dates (ISO, possibly partial) and normalised numbers a text states."""
    dates, rest = _dates_and_rest(_BRACKET.sub(" ", text))
    numbers = [normalise_number(n) for n in _NUMBER.findall(rest)]
    return dates, numbers


def split_sentences(text: str) -> list[str]:
    """Sentences (and list items), with a citation that trails a full stop kept with it."""
    sentences: list[str] = []
    for line in text.splitlines():
        in_line: list[str] = []
        for part in re.split(r"(?<=[.!?])\s+", line.strip()):
            leading = re.match(r"^(?:\[[^\[\]\n]{1,200}\]\s*)+", part)
            if leading and in_line:
                in_line[-1] += " " + leading.group(0).strip()
                part = part[leading.end() :]
            if part.strip():
                in_line.append(part.strip())
        sentences.extend(in_line)
    return sentences


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


def _words(text: str) -> list[str]:
    return _WORD.findall(_BRACKET.sub(" ", text).lower())


def _phrases(texts: Iterable[str]) -> set[tuple[str, ...]]:
    """Every run of ``ECHO_WORDS`` consecutive words in ``texts``."""
    runs: set[tuple[str, ...]] = set()
    for text in texts:
        words = _words(text)
        runs.update(tuple(words[i : i + ECHO_WORDS]) for i in range(len(words) - ECHO_WORDS + 1))
    return runs


def _echo(sentence: str, phrases: set[tuple[str, ...]]) -> str | None:
    """The first instruction phrase ``sentence`` repeats, if any."""
    words = _words(sentence)
    for i in range(len(words) - ECHO_WORDS + 1):
        if tuple(words[i : i + ECHO_WORDS]) in phrases:
            return " ".join(words[i : i + ECHO_WORDS])
    return None


def _uncited_content(text: str) -> bool:
    """True when ``text`` says something and does not read as "not found"."""
    return bool(_words(text)) and not _ABSENCE.search(_BRACKET.sub(" ", text))


def _reports_absence(sentence: str) -> bool:
    """True when an uncited sentence reads as a report about the record or the search
    ("No warfarin is recorded.", "The evidence does not answer the question."), not as
    a statement about the patient that merely contains a "not"."""
    plain = _BRACKET.sub(" ", sentence)
    return bool(_ABSENCE.search(plain) and _ABOUT_RECORD.search(plain))


def _unsupported_uncited(text: str) -> list[str]:
    """The sentences of an answer that cites nothing which are not absence reports."""
    return [s for s in split_sentences(text) if _words(s) and not _reports_absence(s)]


# Phrases that report a failed retrieval honestly, as opposed to claiming absence.
_RETRIEVAL_FAILED = re.compile(
    r"could not be (?:retrieved|loaded|read)|couldn't be retrieved|could not retrieve|"
    r"unavailable|not available|unknown|failed|error",
    re.IGNORECASE,
)


# The stems every tool's spec names its retrieval with (``ToolMark.topics``): what an
# answer may call absent only when a search of it ran.
_KNOWN_TOPICS = frozenset(stem for spec in TOOLS.values() for stem in spec.mark.topics)


def failed_topics(tool: str, arguments: Mapping[str, object]) -> tuple[str, ...]:
    """How an answer would name what ``tool`` (called with ``arguments``) looked for.

    A record-wide tool looked through every family, so it names every tool's topics.
    """
    named = arguments.get("name") or arguments.get("vaccine")
    extra = (named.lower(),) if isinstance(named, str) and named else ()
    spec = spec_of(tool)
    if spec is not None and spec.record_wide:
        every = tuple(topic for other in TOOLS.values() for topic in other.mark.topics)
        return every + extra
    own = spec.topics if spec is not None else (tool.replace("_", " "),)
    return own + extra


def _denies_failed_topic(sentence: str, failed_topics: Iterable[str]) -> str | None:
    """The failed topic a sentence claims is absent ("No allergies are recorded").

    When a search failed, "none recorded" is a claim the record cannot support: only
    "could not be retrieved" is honest about it.
    """
    lowered = _BRACKET.sub(" ", sentence).lower()
    if not _ABSENCE.search(lowered) or _RETRIEVAL_FAILED.search(lowered):
        return None
    return next((topic for topic in failed_topics if topic in lowered), None)


DROPPED_NOTE = (
    "Note: the evidence cited does not state everything the draft said; unsupported "
    "sentences were removed (see notes)."
)
# Bracket look-alikes NFKC leaves alone (CJK lenticular, mathematical, ornamental):
# Unicode's open/close punctuation outside ASCII, except quotation-like forms.
_BRACKET_LOOKALIKE = {
    code: "(" if unicodedata.category(chr(code)) == "Ps" else ")"
    for code in range(0x2000, 0x10000)
    if unicodedata.category(chr(code)) in ("Ps", "Pe") and chr(code) not in LOW_QUOTES
}


def clean_draft(draft: str) -> str:
    """A model's draft with chat-template markers removed and bracket look-alikes made
    parentheses (fullwidth, lenticular, mathematical): nothing that was not checked as a
    citation can pass for one."""
    return strip_special_tokens(draft).translate(_BRACKET_LOOKALIKE)


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
        unsearched = frozenset(_KNOWN_TOPICS - set(searched_topics) - set(failed_topics))
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
    backing = _line_backing(draft, [cited for _, _, cited, _, _ in resolved])
    for (sentence, clean, cited_refs, removed, sentence_checks), backed_by in zip(
        resolved, backing, strict=True
    ):
        for ref, check in sentence_checks.items():
            if not check.verified:
                removed_checks.setdefault(ref, check)
        denied = _denies_failed_topic(sentence, failed_topics)
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
    text = _rejoin(draft, out_sentences)
    verified = list(checks.values())
    if dropped and not text.strip():
        problems.append(
            "Every sentence states something the evidence it cites does not: "
            + "; ".join(dropped[:3])
        )
    elif dropped:
        text = f"{text}\n\n{DROPPED_NOTE}"
    if evidence and not verified and not problems and _uncited_content(text):
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
            for sentence in _unsupported_uncited(text)[:3]
        )
    return Verification(
        text=text,
        citations=verified,
        problems=problems,
        removed=list(removed_checks.values()),
        dropped=dropped,
    )


def _line_backing(draft: str, cited: list[list[str]]) -> list[list[str]]:
    """For each sentence, the references that back its claims.

    A sentence's own citations; for an uncited sentence, those of the next cited sentence
    on its line, since a line's closing citation covers what precedes it:
    ``"- Lormatine stopped. Dose halved [3]."`` quotes one record.
    """
    backing: list[list[str]] = []
    position = 0
    for line in draft.strip().splitlines():
        count = len(split_sentences(line))
        group = cited[position : position + count]
        position += count
        for index, refs in enumerate(group):
            later = next((r for r in group[index:] if r), None)
            backing.append(refs or later or [])
    return backing + cited[position:]


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

    return _BRACKET.sub(rewrite, sentence).strip(), cited, removed


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


def _rejoin(draft: str, sentences: list[str]) -> str:
    """Sentences back into text, keeping the draft's line structure where it had one."""
    if "\n" not in draft.strip():
        return " ".join(s for s in sentences if s)
    lines: list[str] = []
    remaining = iter(sentences)
    for line in draft.strip().splitlines():
        count = len(split_sentences(line))
        kept = " ".join(s for s in (next(remaining, "") for _ in range(count)) if s)
        if kept or not count:  # a line whose every sentence was dropped goes entirely
            lines.append(kept)
    return "\n".join(lines)
