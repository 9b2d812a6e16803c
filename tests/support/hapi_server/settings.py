"""Where the HAPI server's files are, which environment variables steer it, and how to
find the Java and Maven it needs.

Why a module: the build, the server process, the class-data archive and the command line
all read these paths and settings; each is stated here once.  Only the standard library.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
SRC = HERE / "src"
TARGET = HERE / "target"
JAR = TARGET / "hapi-server.jar"
LIB = TARGET / "lib"
STATE_FILE = TARGET / "hapi-server.state.json"
LOG_DIR = TARGET / "logs"

ENV_URL = "EHR_AGENT_HAPI_URL"
ENV_JAVA = "EHR_AGENT_HAPI_JAVA"
ENV_HEAP = "EHR_AGENT_HAPI_HEAP"
ENV_NO_CDS = "EHR_AGENT_HAPI_NO_CDS"
ENV_JAVA_OPTS = "EHR_AGENT_HAPI_JAVA_OPTS"

DEFAULT_HEAP = "2g"
DEFAULT_STARTUP_TIMEOUT = 240.0
DEFAULT_STOP_GRACE = 30.0
CDS_DUMP_GRACE = 120.0
JAR_MARKER = "hapi-server.jar"


class HapiServerError(RuntimeError):
    """The HAPI server could not be built, started or stopped."""


def external_base_url() -> str | None:
    """The base URL in ``EHR_AGENT_HAPI_URL`` (trailing slash removed), if set."""
    url = os.environ.get(ENV_URL, "").strip()
    return url.rstrip("/") or None


def find_java() -> str | None:
    """The java executable: ``EHR_AGENT_HAPI_JAVA``, then ``$JAVA_HOME/bin/java``, then PATH."""
    explicit = os.environ.get(ENV_JAVA)
    if explicit:
        return explicit if Path(explicit).exists() else shutil.which(explicit)
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def find_maven() -> str | None:
    return shutil.which("mvn")
