"""HTTP-dates (RFC 9110 section 5.6.7) read the one way both ends of the FHIR layer need.

Why a module: the client reads ``Retry-After`` and the embedded facade reads
``If-Modified-Since``; both must treat an unparseable date as absent and a date
without a zone as UTC, which was written out twice before.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["parse_http_date"]


def parse_http_date(text: str) -> datetime | None:
    """The aware (UTC when unzoned) datetime an HTTP-date names, or None if it is none."""
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when
