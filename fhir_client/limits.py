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
