"""Build, start and stop a real HAPI FHIR JPA server (FHIR R4, H2) for tests.

The server is assembled from Maven Central artifacts by ``pom.xml`` next to this
file (see ``src/main/java/org/ehragent/hapi``). It listens on 127.0.0.1 only and
serves FHIR at ``http://127.0.0.1:PORT/fhir``.

Library use::

    from tests.support.hapi_server.hapi import HapiServer

    with HapiServer() as hapi:          # builds once, picks a free port, waits for /metadata
        httpx.get(f"{hapi.base_url}/Patient")

Command line::

    python tests/support/hapi_server/hapi.py build
    python tests/support/hapi_server/hapi.py start [--port N] [--db DIR]   # background; prints URL
    python tests/support/hapi_server/hapi.py start --postgres DIR   # on a private PostgreSQL in DIR
    python tests/support/hapi_server/hapi.py status
    python tests/support/hapi_server/hapi.py stop

``start`` records the pid and URL in ``tests/support/hapi_server/target/hapi-server.state.json``.

Environment:

``EHR_AGENT_HAPI_URL``
    Base URL of an already running HAPI server (e.g. from ``hapi.py start``). Callers
    (test fixtures) should use it instead of starting their own server; this module only
    exposes it through :func:`external_base_url`.
``EHR_AGENT_HAPI_JAVA`` / ``JAVA_HOME``
    Java executable to run the server with (default: ``java`` on ``PATH``).
``EHR_AGENT_HAPI_HEAP``
    Maximum heap passed as ``-Xmx`` (default ``2g``).
``EHR_AGENT_HAPI_JAVA_OPTS``
    Extra JVM options, appended last (e.g. ``-XX:TieredStopAtLevel=4`` to re-enable the
    C2 compiler, which the default options leave off for a faster start-up).
``EHR_AGENT_HAPI_NO_CDS``
    If set, do not use/record the class-data-sharing archive (target/hapi-server-*.jsa).
    The first start after a build records it (the JVM writes it while stopping, ~20 s);
    later starts take ~12 s instead of ~15-20 s. ``CI=true`` skips the recording.

Only the standard library and httpx are used.

This module is the entry point (script and import path); the code is split by concern in
this package: ``settings`` (paths, environment, finding Java and Maven), ``maven`` (the
build), ``processes`` (ports and pids), ``cds`` (the class-data archive), ``server``
(``HapiServer``) and ``cli`` (the commands above).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script: make ``tests.support`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.support.hapi_server.cli import main
from tests.support.hapi_server.maven import build, needs_build
from tests.support.hapi_server.processes import free_port, terminate_pid
from tests.support.hapi_server.server import HapiServer
from tests.support.hapi_server.settings import (
    CDS_DUMP_GRACE,
    DEFAULT_HEAP,
    DEFAULT_STARTUP_TIMEOUT,
    DEFAULT_STOP_GRACE,
    ENV_HEAP,
    ENV_JAVA,
    ENV_JAVA_OPTS,
    ENV_NO_CDS,
    ENV_URL,
    HERE,
    JAR,
    LIB,
    LOG_DIR,
    POM,
    SRC,
    STATE_FILE,
    TARGET,
    HapiServerError,
    external_base_url,
    find_java,
    find_maven,
)

__all__ = [
    "CDS_DUMP_GRACE",
    "DEFAULT_HEAP",
    "DEFAULT_STARTUP_TIMEOUT",
    "DEFAULT_STOP_GRACE",
    "ENV_HEAP",
    "ENV_JAVA",
    "ENV_JAVA_OPTS",
    "ENV_NO_CDS",
    "ENV_URL",
    "HERE",
    "JAR",
    "LIB",
    "LOG_DIR",
    "POM",
    "SRC",
    "STATE_FILE",
    "TARGET",
    "HapiServer",
    "HapiServerError",
    "build",
    "external_base_url",
    "find_java",
    "find_maven",
    "free_port",
    "main",
    "needs_build",
    "terminate_pid",
]

if __name__ == "__main__":
    sys.exit(main())
