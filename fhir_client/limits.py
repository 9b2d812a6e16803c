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

INERT_TEXT_CACHE_ENTRIES: Final = 16_384
"""Distinct short record strings whose inert form is remembered (a lifetime record says
"Glucose" and "Hemoglobin A1c" thousands of times; folding each again cost most of the
concept index's build).  Only strings up to MAX_FIELD_CHARS are kept: at most ~3 MB."""
MAX_EVIDENCE_LINE_CHARS: Final = 600
"""One evidence line, all fields together."""
MAX_UNIT_CHARS: Final = 24
"""A Quantity's unit (UCUM codes and displays are short tokens: ``mL/min/{1.73_m2}``)."""
MAX_NUMBER_CHARS: Final = 24
"""A value that should be a number but arrives as text, shown inert at most this long."""
MAX_ANSWER_CHARS: Final = 12_000
"""One answer, whichever path wrote it."""

# --- What a caller may send -----------------------------------------------------------
MAX_QUESTION_CHARS: Final = 2_000
"""A question, on every door (CLI, REPL, API, LangGraph server, replay files)."""

# --- The embedded FHIR server (/fhir) -------------------------------------------------
MAX_INCLUDED_PER_PAGE: Final = 1_000
"""Resources ``_include``/``_revinclude`` add to one search page (HAPI 8.8 also stops at
1,000, silently); past it the page carries an OperationOutcome entry saying so."""
MAX_INCLUDE_PARAMS: Final = 20
"""``_include`` plus ``_revinclude`` values one search may name; each is one SQL query."""
MAX_ELEMENTS: Final = 50
"""Element names one ``_elements`` may list (a resource has fewer top-level elements)."""
MAX_INCLUDE_ROUNDS: Final = 4
"""Rounds of ``_include:iterate``/``_revinclude:iterate`` over what was included: enough
for MedicationRequest -> Encounter -> Practitioner -> Organization chains; past it the
page says the includes were cut."""

# --- Remote $everything (replay, summaries) -------------------------------------------
EVERYTHING_PAGE_SIZE: Final = 1_000
"""``_count`` sent with ``Patient/$everything``: HAPI's default page is 20 resources and
its maximum 1,000, so a 2,000-resource record is 2 pages instead of 100."""
MAX_EVERYTHING_PAGES: Final = 500
"""Pages of one ``$everything`` followed: 500 x 1,000 resources, above Synthea's largest
lifetime records (a 180 MB bundle at ~2 KB a resource is ~90,000), with room for a
server that caps its pages below 1,000."""
EVERYTHING_SNAPSHOT_ENTRIES: Final = 32
"""Patients whose ordered ``$everything`` member ids the embedded store keeps between
pages (ints: 100,000 ids is under 4 MB; see fhir_client.embedded.snapshots)."""
EVERYTHING_SNAPSHOT_SECONDS: Final = 30.0
"""How long those ids serve later pages: another process's writes show after at most
this long (this process's own writes clear them at once). HAPI keeps 60 s."""
RECORD_CACHE_ENTRIES: Final = 4
"""Patients whose whole record and concept index an Assistant keeps across questions
(agent.record_cache): a lifetime record is hundreds of MB as Python objects, so only
the few charts open at once are kept; a fifth patient evicts the least recently used."""
RECORD_CACHE_SECONDS: Final = 600.0
"""How long a kept record serves questions after it was first asked for: a bound on
memory held for a chart nobody reads, not on freshness (any write, from any process,
changes the store's record version and so the key; see agent.record_cache). Ten minutes
covers a consultation's questions; a lifetime record takes seconds to read again."""

RECORD_CACHE_BYTES: Final = 512 * MIB
"""Estimated heap the kept records may hold together (agent.record_cache estimates an
entry as its compact JSON bytes times a measured factor). One lifetime record (60,214
resources) is ~300 MiB, so 512 MiB keeps one such chart, or it and a few ordinary ones
(5-year records are 2-8 MiB), and a server's heap for records stays near half a GB
instead of the 1.2 GB four lifetime records would take under the count bound alone. A
record estimated above this on its own answers its question and is not kept."""

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
STORE_IDLE_READERS: Final = 8
"""Idle read connections a store keeps for its next reads: the facade's worker threads
read at once, and reopening a connection (pragmas, WAL check) on every read costs more
than the read; each idle connection holds up to 64 MB of page cache, so few are kept."""

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

REMOTE_COUNT_BATCH_ENTRIES: Final = 200
"""`_summary=count` searches per FHIR batch request when counting a page's records on a
remote server: ten patients' twenty record types each. Small enough that a slow server
answers one batch well within the request deadline, large enough that a page of 50
takes five requests instead of a thousand."""

# --- Conversation threads and checkpoints (agent/threads.py, agent/checkpoints.py) -----
TURN_LEASE_SECONDS: Final = 30.0
"""How long a turn's lease on its thread lasts unless renewed (renewed every third of it).
A crashed process's lease runs out after this, so its thread is usable again."""
TURN_WAIT_SECONDS: Final = 300.0
"""How long a turn waits for an earlier turn of the same thread (a CPU model answer can
take minutes); then the request is refused as busy rather than queued for ever."""
THREAD_MAX_AGE_SECONDS: Final = 30 * 24 * 3600.0
"""A thread unused this long (30 days) is deleted with its checkpoints."""
MAX_THREADS_KEPT: Final = 10_000
"""At most this many threads are kept; beyond it the least recently used are deleted."""
RETENTION_INTERVAL_SECONDS: Final = 3600.0
"""How often ``serve`` enforces the checkpoint retention policy (also once at start)."""

# --- API callers (agent/api/security.py) ---------------------------------------------
MIN_API_TOKEN_CHARS: Final = 32
"""The shortest API token accepted: 32 random characters (`secrets.token_urlsafe(24)`)
resist guessing; anything shorter is refused when hashed and when presented."""

# --- Paging of the embedded store ----------------------------------------------------
MAX_PAGE_OFFSET: Final = 2**63 - 1
"""The largest ``_offset`` a search or ``$everything`` accepts: SQLite's INTEGER maximum,
beyond which the query itself would fail (HTTP 500 before this bound)."""

# --- Serving ---------------------------------------------------------------------------
WORKER_HEALTHCHECK_SECONDS: Final = 60
"""How long ``serve --workers N`` waits for a worker process to answer uvicorn's health
check. uvicorn's default (5 s) is shorter than a worker's start on a busy 2-core machine
(imports, model load), and a worker that misses it is killed and restarted for ever."""

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

# --- How many items one tool call may return (its ``limit`` argument's ceiling) ---------
MAX_SERIES_VALUES: Final = 50
"""Values one observation tool (``lab_results``, ``vital_signs``) or ``search_record``
returns, billing lines, and the "last N" a question may ask for: a series longer than
this is counted, not shown."""
MAX_LISTED_ITEMS: Final = 200
"""Items one list tool (conditions, medications, encounters, procedures, ...) returns."""
MAX_LISTED_PLANS: Final = 100
"""Care plans or goals one call returns: each line carries its planned activities."""
MAX_NOTE_SNIPPETS: Final = 20
"""Clinical notes one ``clinical_notes`` call quotes: each snippet is long."""

# --- The clinicians tool (tools/care_team.py) ----------------------------------------
MAX_CARE_TEAM_MEMBERS: Final = 50
"""Clinicians (and, apart, organizations) one ``care_team`` answer lists: the ceiling of
its ``limit``. A lifetime Synthea record names a handful; more are counted, not shown."""
MAX_CARE_TEAM_READS: Final = 100
"""Practitioner and Organization resources one ``care_team`` call reads by reference for
their names; past it a line uses the reference's own display text."""
MAX_CARE_TEAM_LINKS: Final = 3
"""Care teams cited on one clinician's line (the newest): a Synthea clinician sits on a
care team per condition, and the line says how many there are."""

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
LOAD_SCRATCH_CACHE_KIB: Final = 4 * 1024
"""Page cache of the temporary SQLite file where a load keeps what it must know per
resource (fullUrls, entry targets, identifiers; fhir_client.loading.scratch). Held in
dicts that was ~0.6 KB a resource, 45 MiB for a 78,696-resource lifetime bundle and
unbounded over a population; past this cache SQLite reads its own temporary file."""
LOAD_LOOKUP_CACHE_ENTRIES: Final = 4_096
"""fullUrl lookups a load keeps in memory in front of that file (about 1 MB): most
references in a Synthea entry name the patient or the entry's encounter."""
LOAD_CHUNK_RESOURCES: Final = 500
"""Resources per write into the store inside a file's one transaction."""
LOAD_CHUNK_BYTES: Final = 1 * MIB
"""JSON bytes per write into the store: a chunk is written before it passes this, so
memory holds one chunk (or one entry bigger than it), never 500 large entries. A chunk
takes ~10x its JSON as Python objects while it is written: 4 MiB chunks held ~30 MiB."""
LOAD_PAGE_CACHE_KIB: Final = 16 * 1024
"""SQLite page cache of the store's write connection during a load (the store's usual is
64 MiB): a lifetime bundle is one transaction of ~400 MB of pages, which fill any cache,
and the cache stays resident; past this SQLite spills pages to the WAL."""
VALIDATION_WORKERS: Final = 1
"""Worker processes validating resources beside the loader: one keeps a second core
busy while the loader's own process parses and writes; more would compete with it."""

# --- The graph's derived views (agent/results.py) --------------------------------------
DERIVED_VIEWS_REMEMBERED: Final = 64
"""Decoded tool results and alias maps kept per process, each keyed by the state object
it comes from, so a turn decodes each result and builds its alias map once: a turn holds
at most a step budget's results (16) and concurrent turns share the memo."""
