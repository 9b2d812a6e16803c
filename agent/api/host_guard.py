"""Which ``Host`` and ``Origin`` the server answers to: DNS rebinding and cross-site posts.

A page on ``evil.example`` whose DNS name is re-pointed at 127.0.0.1 reaches a loopback
server with ``Host: evil.example``, and the browser treats the answers as that page's own:
in open (no-token) mode it could read every record.  So every request must name a host
this server is really reached by: the loopback names, the address the connection came in
on (``scope["server"]``, which also covers a server bound to 0.0.0.0 and reached by IP),
and the names given with ``serve --allowed-host`` (``*`` turns the check off, for a
reverse proxy that checks hosts itself).  Anything else is a 400 that does not echo the
name.  This also keeps an attacker's host out of the ``/fhir`` Bundle links, which are
built from ``Host``.

State-changing calls (anything but GET, HEAD, OPTIONS) that carry an ``Origin`` must come
from an allowed host too; browsers always send ``Origin`` on cross-site POSTs, while
scripts and the CLI send none.  ``Sec-Fetch-Site: cross-site`` is refused likewise.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ENV_ALLOWED_HOSTS", "LOOPBACK_NAMES", "HostGuardMiddleware", "parse_allowed_hosts"]

ENV_ALLOWED_HOSTS = "EHR_AGENT_ALLOWED_HOSTS"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def parse_allowed_hosts(values: Iterable[str]) -> frozenset[str]:
    """Normalise ``--allowed-host`` values (comma lists allowed): lower case, no port."""
    hosts: set[str] = set()
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if name:
                hosts.add(name if name == "*" else _hostname(name) or name)
    return frozenset(hosts)


def _hostname(netloc: str) -> str | None:
    """``netloc``'s host, lower case, without port or IPv6 brackets; None if malformed."""
    try:
        host = urlsplit(f"//{netloc}").hostname
    except ValueError:
        return None
    return host.lower() if host else None


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return bytes(value).decode("latin-1")
    return None


class HostGuardMiddleware:
    """Refuse requests whose ``Host`` (or, for writes, ``Origin``) is not this server's."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.allowed = allowed_hosts

    def _allowed(self, host: str | None, scope: Scope) -> bool:
        if "*" in self.allowed:
            return True
        if host is None:
            return False
        server = scope.get("server")
        bound = str(server[0]).lower() if server else None
        return host in LOOPBACK_NAMES or host in self.allowed or host == bound

    def refusal(self, scope: Scope) -> tuple[str, str] | None:
        """``(kind, message)`` when the request must be refused, else None."""
        host_header = _header(scope, b"host")
        if not self._allowed(_hostname(host_header) if host_header else None, scope):
            return (
                "bad_host",
                "This server does not answer to that Host name (a DNS-rebinding guard). "
                "Use the address it listens on, or start it with --allowed-host NAME.",
            )
        if scope.get("method", "GET") in _SAFE_METHODS:
            return None
        if (_header(scope, b"sec-fetch-site") or "").lower() == "cross-site":
            return ("bad_origin", "Cross-site requests may not change anything here.")
        origin = _header(scope, b"origin")
        if origin is not None:
            parts = urlsplit(origin) if origin != "null" else None
            if (
                parts is None
                or parts.scheme not in ("http", "https")
                or not self._allowed(_hostname(parts.netloc), scope)
            ):
                return ("bad_origin", "Requests from another site's page are refused here.")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is None:
            await self.app(scope, receive, send)
            return
        kind, detail = refused
        status = 400 if kind == "bad_host" else 403
        body = json.dumps({"detail": detail, "kind": kind}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
