"""Clinical note text: decode the base64 attachments and cut keyword snippets out of them.

A Synthea note is a few hundred words; a model needs the sentence that mentions
"metformin", not the whole note.  Snippets are plain data: nothing in a note's text is ever
interpreted as a reference to follow or an instruction (the toolset only formats them).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from tools.evidence import Evidence
from tools.formatting import format_resource
from tools.scope import PatientScope

__all__ = ["NoteSnippet", "find_snippets", "note_text", "search_notes"]

_SNIPPET_CHARS = 200
_SPACE = re.compile(r"\s+")
_TEXT_TYPES = ("text/plain", "text/markdown", "text/html", "text/")
_TAG = re.compile(r"<[^>]+>")


def _decode(attachment: Any) -> str:
    if not isinstance(attachment, dict):
        return ""
    content_type = str(attachment.get("contentType") or "text/plain").lower()
    if not content_type.startswith(_TEXT_TYPES):
        return ""
    data = attachment.get("data")
    if not isinstance(data, str):
        return ""
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return ""
    text = raw.decode("utf-8", errors="replace")
    if "html" in content_type:
        text = _TAG.sub(" ", text)
    return text


def note_text(resource: dict[str, Any]) -> str:
    """The decoded text of a DocumentReference or DiagnosticReport ("" if none).

    Only inline base64 ``data`` is read; an attachment ``url`` is never fetched, since it
    could point anywhere (including another patient's document).
    """
    if resource.get("resourceType") == "DocumentReference":
        attachments = [
            c.get("attachment") for c in resource.get("content") or [] if isinstance(c, dict)
        ]
    elif resource.get("resourceType") == "DiagnosticReport":
        attachments = list(resource.get("presentedForm") or [])
    else:
        return ""
    return "\n".join(t for t in (_decode(a) for a in attachments) if t)


@dataclass(frozen=True)
class NoteSnippet:
    """Up to ~200 characters of a note around a keyword hit (whitespace collapsed)."""

    text: str
    keyword: str | None


def _window(text: str, start: int, end: int, width: int) -> str:
    pad = max(0, (width - (end - start)) // 2)
    left = max(0, start - pad)
    right = min(len(text), end + pad)
    snippet = _SPACE.sub(" ", text[left:right]).strip()
    prefix = "…" if left > 0 else ""
    suffix = "…" if right < len(text) else ""
    return prefix + snippet + suffix


def find_snippets(
    text: str, keywords: list[str], *, width: int = _SNIPPET_CHARS, max_snippets: int = 2
) -> list[NoteSnippet]:
    """Snippets around the first hits of any keyword (case-insensitive, whole-word start).

    With no keywords, the opening of the note (its date and chief complaint) is returned,
    so "what was the last visit about" still gets a useful line.
    """
    if not text.strip():
        return []
    if not keywords:
        body = _SPACE.sub(" ", text).strip()
        return [NoteSnippet(body[:width] + ("…" if len(body) > width else ""), None)]
    hits: list[tuple[int, int, str]] = []
    for keyword in keywords:
        word = keyword.strip()
        if not word:
            continue
        pattern = re.compile(r"(?<![A-Za-z0-9])" + re.escape(word), re.IGNORECASE)
        match = pattern.search(text)
        if match:
            hits.append((match.start(), match.end(), word))
    hits.sort()
    snippets: list[NoteSnippet] = []
    covered_until = -1
    for start, end, word in hits:
        if start < covered_until:
            continue
        snippets.append(NoteSnippet(_window(text, start, end, width), word))
        covered_until = start + width // 2
        if len(snippets) >= max_snippets:
            break
    return snippets


async def search_notes(
    scope: PatientScope, keywords: list[str], params: dict[str, Any], *, scan: int
) -> tuple[list[Evidence], bool]:
    """Notes of the patient whose text matches, newest first, as snippet evidence.

    Synthea writes each note twice (a DocumentReference and a DiagnosticReport with the
    same text); identical texts are shown once, DocumentReference first.  Returns the
    evidence and whether the scan of ``scan`` notes per type was cut short.
    """
    evidence: list[Evidence] = []
    seen_texts: set[int] = set()
    truncated = False
    for resource_type in ("DocumentReference", "DiagnosticReport"):
        found = await scope.search(resource_type, params, max_results=scan)
        truncated = truncated or found.truncated
        for resource in found.resources:
            text = note_text(resource)
            if not text or hash(text) in seen_texts:
                continue
            seen_texts.add(hash(text))
            snippets = find_snippets(text, keywords)
            if not snippets:
                continue
            line = format_resource(resource)
            quoted = " | ".join(s.text for s in snippets)
            evidence.append(
                Evidence(
                    reference=line.reference,
                    text=f'{line.text}: "{quoted}"',
                    date=line.date,
                    kind=line.kind,
                    label=line.label,
                    value=quoted,
                    resource=resource,
                )
            )
    return evidence, truncated
