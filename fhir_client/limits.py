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
MAX_BACKOFF_SECONDS: Final = 30.0
"""Longest pause between two retries of one request."""
MAX_RETRY_AFTER_SECONDS: Final = 60.0
"""A server's ``Retry-After`` above this is reported instead of waited for."""

# --- Files the loader reads -----------------------------------------------------------
MAX_BUNDLE_FILE_BYTES: Final = 1024 * MIB
"""One bundle or NDJSON file; Synthea's lifetime bundles of the elderly reach ~180 MB."""
MAX_ENTRY_BYTES: Final = 64 * MIB
"""One resource inside a bundle (base64 notes make some large)."""
MAX_JSON_DEPTH: Final = 64
"""Nesting of JSON objects and arrays; FHIR resources stay far below it."""
MAX_NDJSON_LINE_BYTES: Final = MAX_ENTRY_BYTES
"""One line of a Bulk Data NDJSON file: one resource, so the entry bound applies."""

# --- FHIR server timing ----------------------------------------------------------------
READ_TIMEOUT_SECONDS: Final = 60.0
"""httpx's per-operation timeout (connect, each read, each write) for ordinary reads."""
LOAD_TIMEOUT_SECONDS: Final = 600.0
"""The same for a load: one practitioner bundle is a multi-megabyte transaction that a
remote server may take minutes to store."""
LOAD_REQUEST_DEADLINE_SECONDS: Final = 1800.0
"""Total time for one load request (a lifetime bundle of ~180 MB is one transaction)."""

# --- The embedded store (SQLite) ---------------------------------------------------------
STORE_BUSY_TIMEOUT_SECONDS: Final = 5.0
"""How long SQLite's busy handler waits for a lock before the store retries. Short, so a
waiting writer notices a bound it is about to pass and says so."""
STORE_WRITE_WAIT_SECONDS: Final = 900.0
"""Total time a writer waits for another process's write to finish before it gives up
with a message; one lifetime bundle (~180 MB) is one SQLite transaction of minutes."""

# --- Listing patients ------------------------------------------------------------------
DEFAULT_PATIENT_PAGE: Final = 50
"""Patients per page of `ehr-agent patients` and `GET /patients` when none is asked."""
MAX_PATIENT_PAGE: Final = 500
"""Most patients one page may hold; a bigger `--count`/`count=` is refused."""
MAX_PATIENT_OFFSET: Final = 2**31
"""Largest offset into the patient list: far beyond any list, and inside SQLite's range."""
MAX_NAME_QUERY_CHARS: Final = 100
"""A name filter (`--name`, `GET /patients?name=`)."""
REMOTE_COUNT_CONCURRENCY: Final = 8
"""Concurrent `_summary=count` requests to a remote server while counting a page's records."""

# --- Local model runtime (agent/models/llama_cpp_backend.py) --------------------------
MAX_PREFIX_STATES: Final = 8
"""Saved prompt-prefix KV states per loaded model, one per instruction text (planning,
answering, summary, ...); each is a few MiB, and the graph uses fewer than eight texts."""
MIN_PREFIX_EXTENSION_TOKENS: Final = 16
"""A saved prefix is re-saved longer only when prompts share this many more tokens;
saving costs a copy of the KV cells, which a handful of tokens does not repay."""
MAX_PROMPT_LOOKUP_TOKENS: Final = 32
"""Longest prompt-lookup draft; llama.cpp verifies each draft in one batch, and longer
drafts from a copied line are rejected more often than they save."""
MAX_REPLAY_CONCURRENCY: Final = 64
"""Questions in flight in ``replay --concurrency``; beyond a server's parallel slots more
only queue, and each in-flight question holds a patient's evidence in memory."""

# --- Loading --------------------------------------------------------------------------
VALIDATION_WORKERS: Final = 1
"""Worker processes validating resources beside the loader: one keeps a second core
busy while the loader's own process parses and writes; more would compete with it."""
