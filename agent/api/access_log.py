"""uvicorn's access log without query values: they may carry a token or a patient's name.

A client that puts a token in the URL (``?access_token=...``, a habit of some FHIR tools)
or searches by name would otherwise have it written to the server's log on every request.
The filter keeps each parameter's name and replaces its value, so the log still says what
kind of request it was.  It is installed through uvicorn's ``log_config`` so that every
worker process of ``serve --workers N`` gets it too.
"""

from __future__ import annotations

import copy
import logging
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["REDACTED", "RedactQueryFilter", "redact_query", "uvicorn_log_config"]

REDACTED = "[redacted]"


def redact_query(path: str) -> str:
    """``path`` with every query value replaced by ``[redacted]``."""
    base, sep, query = path.partition("?")
    if not sep:
        return path
    names = [name for name, _ in parse_qsl(query, keep_blank_values=True)]
    if not names and query:
        return f"{base}?{REDACTED}"
    return base + "?" + "&".join(f"{name}={REDACTED}" for name in names)


class RedactQueryFilter(logging.Filter):
    """Rewrite uvicorn access records (``args[2]`` is the path with its query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging config with the redacting filter on the access log."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_query"] = {"()": RedactQueryFilter}
    config["handlers"]["access"]["filters"] = ["redact_query"]
    return config
