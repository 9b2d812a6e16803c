"""Every size, depth, count and time the product bounds, named in one place.

Why one module: a bound written where it is used gets restated (a schema's
``maxLength``, a check in code, a line in the README) and the copies drift.
Each layer imports from here; the README's "Bounds" table is this file. It
lives in ``fhir_client`` because that is the bottom layer: ``tools`` and
``agent`` may import it, it imports nothing of theirs.

A bound that is hit is never silent: the code that enforces it says what was
cut (``truncated``, "N more"), or refuses with a message naming the bound and
what to do.
"""

from __future__ import annotations

from typing import Final

KIB: Final = 1024
MIB: Final = 1024 * KIB

# --- Record text as it reaches evidence lines, prompts and answers -------------------
MAX_FIELD_CHARS: Final = 200
"""One field of a record (a name, a unit, a display) in an evidence line."""
MAX_EVIDENCE_LINE_CHARS: Final = 600
"""One evidence line, all fields together."""
MAX_ANSWER_CHARS: Final = 12_000
"""One answer, whichever path wrote it."""

# --- What a caller may send -----------------------------------------------------------
MAX_QUESTION_CHARS: Final = 2_000
"""A question, on every door (CLI, REPL, API, LangGraph server, replay files)."""

# --- Upstream FHIR servers ------------------------------------------------------------
MAX_RESPONSE_BYTES: Final = 64 * MIB
"""One HTTP response body from a FHIR server; larger is refused, never read whole."""
REQUEST_DEADLINE_SECONDS: Final = 120.0
"""Total time for one request including retries and a slow (trickling) body."""

# --- Files the loader reads -----------------------------------------------------------
MAX_BUNDLE_FILE_BYTES: Final = 1024 * MIB
"""One bundle or NDJSON file; Synthea's lifetime bundles of the elderly reach ~180 MB."""
MAX_ENTRY_BYTES: Final = 64 * MIB
"""One resource inside a bundle (base64 notes make some large)."""
MAX_JSON_DEPTH: Final = 64
"""Nesting of JSON objects and arrays; FHIR resources stay far below it."""

# --- The whole-record views the tools build (concept index, record-wide search) -------
MAX_RECORD_PAGES: Final = 400
"""Pages of ``Patient/$everything`` read to build a patient's record index; at the
embedded store's 1,000 per page that is 400,000 resources, beyond the largest Synthea
lifetime record (~180 MB bundle). A record cut short says so (``truncated``)."""
MAX_RECORD_RESOURCES: Final = 200_000
"""Resources kept in one patient's in-memory record index (about 1-2 GB of JSON at the
very top; Synthea's oldest patients hold ~100,000)."""
MAX_SEARCH_TEXT_CHARS: Final = 8_000
"""Characters of one resource's text put into the record-wide full-text index; a note is
cut there (its opening holds the visit's substance), so one huge attachment cannot bloat
the index."""
MAX_SEARCH_HITS: Final = 200
"""Ranked hits the record-wide search reads before grouping; more are counted, not shown."""
