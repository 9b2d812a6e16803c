"""Byte screens a bundle's raw bytes pass before ijson parses them.

ijson's C parser is fast but trusting: a 100,000-deep array made it build ever longer
prefix strings until memory ran out, an escaped lone surrogate (``"\\ud800"``) comes out
silently as "?", and one huge entry is built whole before anyone can measure it.
:class:`CountingReader` wraps the file and checks every chunk on its way to the
parser (the entry's bytes, the nesting, the surrogates), raising one of the exceptions
below from inside the parser's ``read()`` to stop it; :mod:`fhir_client.loading.sources`
turns each into a :class:`BundleLoadError` naming the file and the entry.
"""

from __future__ import annotations

import re
from typing import IO

from fhir_client.limits import MAX_JSON_DEPTH

__all__ = ["READ_BYTES", "CountingReader", "EntryTooLarge", "LoneSurrogate", "TooDeep"]

READ_BYTES = 64 * 1024
# The reader may run one buffer ahead of the entry being built.
_ENTRY_SLACK_BYTES = 2 * READ_BYTES


# The byte-level screen may over-count nesting up to three times (see _NestingScreen);
# the exact MAX_JSON_DEPTH check runs on each parsed entry.
_SCREEN_DEPTH = 3 * MAX_JSON_DEPTH
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


class EntryTooLarge(Exception):
    """Raised from inside the parser's read() to stop it mid-entry."""


class TooDeep(Exception):
    """Raised from inside the parser's read(): the bytes nest far too deep."""


class LoneSurrogate(Exception):
    """Raised from inside the parser's read(): a ``\\ud800``-style escape has no pair."""


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE_PAIR = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_HIGH_AT_END = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}$")
_LONG_TAIL = 4096


class _SurrogateScreen:
    """Refuses an escaped lone surrogate (``"\\ud800"``) that ijson would turn into "?".

    Such text cannot be stored as UTF-8 anyway; the stdlib parser keeps it, and the
    store then names the file. ijson's C parser replaces it silently, which would
    change record text, so the bytes are checked before it sees them. Escapes never
    contain a quote, so each chunk is checked up to its last quote and the rest is
    kept for the next one.
    """

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, text: bytes, *, final: bool) -> None:
        data = self._tail + text
        if final:
            region, self._tail = data, b""
        else:
            cut = data.rfind(b'"')
            if cut < 0 or len(data) - cut > _LONG_TAIL:
                slash = data.rfind(b"\\", max(0, len(data) - 12))
                cut = slash if slash >= 0 else max(0, len(data) - 12)
                if _HIGH_AT_END.search(data, 0, cut):
                    cut -= 6
            region, self._tail = data[:cut], data[cut:]
        if (
            b"\\u" in region
            and _SURROGATE.search(region)
            and _SURROGATE.search(_SURROGATE_PAIR.sub(b"", region))
        ):
            raise LoneSurrogate


class _NestingScreen:
    """Refuses bytes nested far deeper than any FHIR resource before a parser sees them.

    ijson builds a prefix string per event whose length grows with the depth, so
    a 100,000-deep array made it use all memory. This screen works on raw chunks
    with C-speed bytes operations: drop escapes, drop the inside of strings, keep
    the brackets, strip matched pairs pass by pass. It over-counts at most three
    times, so it screens at ``3 * MAX_JSON_DEPTH``; the exact check is
    :func:`fhir_client._codec.check_depth` on each parsed entry.
    """

    def __init__(self) -> None:
        self._depth = 0
        self._in_string = False
        self._carry = b""
        self._surrogates = _SurrogateScreen()

    def feed(self, data: bytes) -> None:
        text = (self._carry + data).replace(b"\\\\", b"")
        self._carry = b""
        if text.endswith(b"\\"):
            text, self._carry = text[:-1], b"\\"
        self._surrogates.feed(text, final=not data)
        pieces = text.replace(b'\\"', b"").split(b'"')
        outside = b"".join(pieces[1 if self._in_string else 0 :: 2])
        if len(pieces) % 2 == 0:
            self._in_string = not self._in_string
        brackets = outside.translate(_BRACKETS, _NOT_BRACKETS)
        passes = 0
        while b"[]" in brackets:
            brackets = brackets.replace(b"[]", b"")
            passes += 1
            if self._depth + passes > _SCREEN_DEPTH:
                raise TooDeep
        closes = brackets.count(b"]")
        opens = len(brackets) - closes
        if self._depth + opens + passes > _SCREEN_DEPTH:
            raise TooDeep
        self._depth = max(0, self._depth - closes) + opens


class CountingReader:
    """A file wrapper that stops the parser when one entry has read too many bytes,
    or when the bytes nest far too deep."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self._raw = raw
        self._limit = limit + _ENTRY_SLACK_BYTES
        self._screen = _NestingScreen()
        self.since_entry = 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes read(0) to learn whether the file gives bytes
            return b""
        data = self._raw.read(size if size > 0 else READ_BYTES)
        self.since_entry += len(data)
        if self.since_entry > self._limit:
            raise EntryTooLarge
        self._screen.feed(data)
        return data
