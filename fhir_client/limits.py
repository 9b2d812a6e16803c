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

# --- Time given to the record source by the doors (CLI, API, LangGraph server) ---------
LOAD_TIMEOUT_SECONDS: Final = 600.0
"""One load request: a practitioner bundle is one multi-megabyte transaction, and a
remote server may need minutes for it."""
READ_TIMEOUT_SECONDS: Final = 60.0
"""One read or search while answering; the client's retries stay inside
``REQUEST_DEADLINE_SECONDS``."""

# --- The Postgres thread store ----------------------------------------------------------
CHECKPOINT_POOL_SIZE: Final = 4
"""Connections a process keeps to a Postgres checkpointer: turns on one model are
serialized, so a few cover concurrent rule-based turns and state reads."""
CHECKPOINT_POOL_TIMEOUT_SECONDS: Final = 15.0
"""Wait for a Postgres connection (at start, or after a restart) before the turn fails
with an error that names the database."""

# --- The Assistant ---------------------------------------------------------------------
KNOWN_PATIENTS_REMEMBERED: Final = 1024
"""Patient ids an Assistant remembers having read, so each turn's check costs no read;
a chart review touches far fewer patients per process."""
