"""Who may call the API: bearer tokens, each limited to a set of patients.

Tokens are configured in a JSON or TOML file that holds only SHA-256 hashes, so the file
can be read by the server (and sit in a config repository) without granting anything::

    {"tokens": [{"name": "dashboard-a", "sha256": "<hex>", "patients": ["id1", "id2"]},
                {"name": "ops", "sha256": "<hex>", "patients": "*"}]}

Without tokens the API is open, which is only acceptable on loopback (the demo): serving
elsewhere is refused by :func:`check_exposure`.  With tokens, :class:`BearerAuthMiddleware`
guards every route except the page, its files, ``/health`` and the OpenAPI docs: 401 (with
``WWW-Authenticate: Bearer``) without a valid token, 403 for a patient outside the
token's set, and ``/fhir`` only for ``*`` tokens (a raw resource read cannot be tied to a
patient cheaply).  Tokens are compared by hash in constant time and never logged or
echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "ENV_API_TOKENS",
    "ApiToken",
    "BearerAuthMiddleware",
    "InsecureBinding",
    "TokenConfigError",
    "TokenRegistry",
    "check_exposure",
    "hash_token",
    "token_of",
]

ENV_API_TOKENS = "EHR_AGENT_API_TOKENS"
ALL_PATIENTS = "*"
SCOPE_KEY = "ehr_agent.api_token"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_PUBLIC = ("/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/")
_PATIENT_PATH = re.compile(r"^/patients/([^/]+)(?:/|$)")


class TokenConfigError(ValueError):
    """The tokens file is missing or malformed; the message names the file and the fix."""


class InsecureBinding(RuntimeError):
    """The server would expose an unauthenticated API beyond this machine."""


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token, as the tokens file stores it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiToken:
    """One configured token: a name for logs and the patients it may see (``None``: all)."""

    name: str
    sha256: str
    patients: frozenset[str] | None

    def allows(self, patient_id: str) -> bool:
        return self.patients is None or patient_id in self.patients

    @property
    def all_patients(self) -> bool:
        return self.patients is None


def _parse_entry(entry: Any, index: int, source: Path) -> ApiToken:
    where = f"{source}: tokens[{index}]"
    if not isinstance(entry, dict):
        raise TokenConfigError(f"{where} must be a table/object with name, sha256, patients")
    name, digest, patients = entry.get("name"), entry.get("sha256"), entry.get("patients")
    if not isinstance(name, str) or not name:
        raise TokenConfigError(f"{where} needs a non-empty 'name'")
    if not isinstance(digest, str) or not _HEX64.match(digest.lower()):
        raise TokenConfigError(
            f"{where} ({name}) needs 'sha256': the 64-hex-digit hash of the token "
            "(`ehr-agent serve --hash-token` prints it); never the token itself"
        )
    if patients == ALL_PATIENTS:
        allowed = None
    elif isinstance(patients, list) and patients and all(isinstance(p, str) for p in patients):
        allowed = frozenset(patients)
    else:
        raise TokenConfigError(
            f"{where} ({name}) needs 'patients': a non-empty list of patient ids, or \"*\""
        )
    return ApiToken(name=name, sha256=digest.lower(), patients=allowed)


@dataclass(frozen=True)
class TokenRegistry:
    tokens: tuple[ApiToken, ...]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: Path) -> TokenRegistry:
        entries = data.get("tokens")
        if not isinstance(entries, list) or not entries:
            raise TokenConfigError(f"{source} must hold a non-empty 'tokens' list")
        tokens = tuple(_parse_entry(entry, i, source) for i, entry in enumerate(entries))
        if len({t.sha256 for t in tokens}) != len(tokens):
            raise TokenConfigError(f"{source} lists the same token hash twice")
        return cls(tokens)

    @classmethod
    def load(cls, path: Path) -> TokenRegistry:
        """Read a ``.toml`` or JSON tokens file."""
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise TokenConfigError(f"Cannot read the API tokens file {path}: {error}") from error
        try:
            data = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            kind = "TOML" if path.suffix == ".toml" else "JSON"
            raise TokenConfigError(f"{path} is not valid {kind}: {error}") from error
        if not isinstance(data, dict):
            raise TokenConfigError(f"{path} must hold an object with a 'tokens' list")
        return cls.from_mapping(data, path)

    @classmethod
    def resolve(
        cls, option: Path | None, environ: Mapping[str, str] | None = None
    ) -> TokenRegistry | None:
        """``--tokens``, else ``$EHR_AGENT_API_TOKENS``, else ``None`` (no authentication)."""
        env = os.environ if environ is None else environ
        path = option or (Path(env[ENV_API_TOKENS]) if env.get(ENV_API_TOKENS) else None)
        return cls.load(path.expanduser()) if path is not None else None

    def authenticate(self, presented: str) -> ApiToken | None:
        """The token whose hash matches; every hash is compared, in constant time."""
        digest = hash_token(presented).encode()
        found: ApiToken | None = None
        for token in self.tokens:
            if hmac.compare_digest(digest, token.sha256.encode()):
                found = token
        return found


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, tokens: TokenRegistry | None) -> None:
    """Refuse an open API on anything but loopback (see the module doc)."""
    if tokens is None and not _is_loopback(host):
        raise InsecureBinding(
            f"no API tokens configured: refusing to listen on {host}; "
            "pass --tokens FILE or bind 127.0.0.1"
        )


def token_of(scope: Mapping[str, Any]) -> ApiToken | None:
    """The authenticated token of a request (``None`` when the API is open)."""
    found = scope.get(SCOPE_KEY)
    return found if isinstance(found, ApiToken) else None


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credentials = bytes(value).decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
            return None
    return None


async def _refuse(send: Send, status: int, kind: str, detail: str) -> None:
    body = json.dumps({"detail": detail, "kind": kind}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="ehr-agent"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BearerAuthMiddleware:
    """ASGI middleware enforcing :class:`TokenRegistry` (a pure ASGI one: streams pass)."""

    def __init__(self, app: ASGIApp, tokens: TokenRegistry) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in _PUBLIC or path.startswith("/static/"):
            await self.app(scope, receive, send)
            return
        presented = _bearer(scope)
        token = self.tokens.authenticate(presented) if presented else None
        if token is None:
            await _refuse(
                send,
                401,
                "unauthorized",
                "This API needs 'Authorization: Bearer <token>' with a configured token.",
            )
            return
        match = _PATIENT_PATH.match(path)
        if match and not token.allows(match.group(1)):
            await _refuse(send, 403, "forbidden", "This token does not grant this patient.")
            return
        if (path == "/fhir" or path.startswith("/fhir/")) and not token.all_patients:
            await _refuse(
                send, 403, "forbidden", '/fhir needs a token granting every patient ("*").'
            )
            return
        scope[SCOPE_KEY] = token
        await self.app(scope, receive, send)
