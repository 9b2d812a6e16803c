"""Who may call the API: bearer tokens, each limited to a set of patients.

Tokens are configured in a JSON or TOML file that holds only salted hashes, so the file
can be read by the server (and sit in a config repository) without granting anything::

    {"tokens": [{"name": "dashboard-a", "hmac": "<hex>", "patients": ["id1", "id2"]},
                {"name": "ops", "hmac": "<hex>", "patients": "*"}]}

A hash is HMAC-SHA256 of the token under a per-install key (32 random bytes in
``<user data dir>/ehr-agent/api-token.key``, created on first use with mode 0600, or the
file ``$EHR_AGENT_API_TOKEN_KEY`` names): a leaked tokens file cannot be checked against
guesses, nor matched across installs, without that key.  HMAC rather than a slow KDF
because tokens are long random strings (at least ``MIN_API_TOKEN_CHARS``, refused when
hashed and when presented), and every request must be checked in microseconds.
Unsalted ``sha256`` entries of older files are refused with the command that re-hashes.

Without tokens the API is open, which is only acceptable on loopback (the demo): serving
elsewhere is refused by :func:`check_exposure`.  With tokens, every route that reads the
record takes FastAPI security dependencies (so OpenAPI shows the bearer scheme on each):
:data:`Caller` (401 with ``WWW-Authenticate: Bearer`` without a valid token) and
:data:`GrantedPatient`, bound to the route's ``{patient_id}`` (403 for a patient outside
the token's set).  The page, its files, ``/health`` and the docs take none.  ``/fhir`` is
an ASGI mount, outside FastAPI's dependencies: :func:`refuse_fhir_unless_all_patients`
admits only ``*`` tokens there (a raw resource read cannot be tied to a patient cheaply).
Tokens are compared by hash in constant time and never logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import tomllib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import platformdirs
from fastapi import Path as PathParam
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from agent.api.runtime import ApiError
from agent.settings import APP_NAME
from fhir_client.ids import ID_PATH_PATTERN
from fhir_client.limits import MIN_API_TOKEN_CHARS

__all__ = [
    "ANONYMOUS",
    "ENV_API_TOKENS",
    "ENV_API_TOKEN_KEY",
    "PUBLIC_PATHS",
    "UNAUTHENTICATED",
    "ApiToken",
    "Caller",
    "GrantedPatient",
    "InsecureBinding",
    "TokenConfigError",
    "TokenRegistry",
    "api_token",
    "authenticate_scope",
    "bearer",
    "caller_of",
    "check_exposure",
    "granted_patient",
    "hash_token",
    "install_key",
    "is_public_path",
    "refuse_fhir_unless_all_patients",
    "token_of",
]

ENV_API_TOKENS = "EHR_AGENT_API_TOKENS"
ENV_API_TOKEN_KEY = "EHR_AGENT_API_TOKEN_KEY"
KEY_FILE = "api-token.key"
KEY_BYTES = 32
ALL_PATIENTS = "*"
SCOPE_KEY = "ehr_agent.api_token"
CALLER_KEY = "ehr_agent.caller"
ANONYMOUS = "anonymous"  # the caller in open (no-token) mode
UNAUTHENTICATED = "unauthenticated"  # a refused request without a valid token
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
PUBLIC_PATHS = frozenset(
    {"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/"}
)
"""Paths that read no record: neither authenticated nor audited (plus ``/static/...``)."""


def is_public_path(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith("/static/")


class TokenConfigError(ValueError):
    """The tokens file is missing or malformed; the message names the file and the fix."""


class InsecureBinding(RuntimeError):
    """The server would expose an unauthenticated API beyond this machine."""


def install_key(path: Path | None = None, environ: Mapping[str, str] | None = None) -> bytes:
    """This install's token-hashing key: read it, or create it (mode 0600) on first use."""
    env = os.environ if environ is None else environ
    if path is None:
        path = (
            Path(env[ENV_API_TOKEN_KEY]).expanduser()
            if env.get(ENV_API_TOKEN_KEY)
            else Path(platformdirs.user_data_dir(APP_NAME)) / KEY_FILE
        )
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            key = path.read_bytes()
        else:
            key = secrets.token_bytes(KEY_BYTES)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(key)
    if len(key) < KEY_BYTES:
        raise TokenConfigError(
            f"The token-hashing key {path} is shorter than {KEY_BYTES} bytes; delete it "
            "(a new one is made) and re-hash every token with `ehr-agent serve --hash-token`"
        )
    return key


def check_token_length(token: str) -> None:
    if len(token) < MIN_API_TOKEN_CHARS:
        raise TokenConfigError(
            f"API tokens must be at least {MIN_API_TOKEN_CHARS} characters; make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )


def hash_token(token: str, key: bytes) -> str:
    """The hex HMAC-SHA256 of a token under this install's key, as the tokens file stores it.

    Refuses a token shorter than ``MIN_API_TOKEN_CHARS`` (:class:`TokenConfigError`).
    """
    check_token_length(token)
    return hmac.new(key, token.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ApiToken:
    """One configured token: a name for logs and the patients it may see (``None``: all)."""

    name: str
    digest: str
    patients: frozenset[str] | None

    def allows(self, patient_id: str) -> bool:
        return self.patients is None or patient_id in self.patients

    @property
    def all_patients(self) -> bool:
        return self.patients is None


def _parse_entry(entry: Any, index: int, source: Path) -> ApiToken:
    where = f"{source}: tokens[{index}]"
    if not isinstance(entry, dict):
        raise TokenConfigError(f"{where} must be a table/object with name, hmac, patients")
    name, digest, patients = entry.get("name"), entry.get("hmac"), entry.get("patients")
    if not isinstance(name, str) or not name:
        raise TokenConfigError(f"{where} needs a non-empty 'name'")
    if "sha256" in entry and digest is None:
        raise TokenConfigError(
            f"{where} ({name}) has an unsalted 'sha256' hash, which is no longer accepted; "
            "re-hash the token with `ehr-agent serve --hash-token` and store it as 'hmac'"
        )
    if not isinstance(digest, str) or not _HEX64.match(digest.lower()):
        raise TokenConfigError(
            f"{where} ({name}) needs 'hmac': the 64-hex-digit salted hash of the token "
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
    return ApiToken(name=name, digest=digest.lower(), patients=allowed)


@dataclass(frozen=True)
class TokenRegistry:
    tokens: tuple[ApiToken, ...]
    key: bytes = b""

    def __repr__(self) -> str:  # the key never reaches a log or a traceback
        return f"TokenRegistry({[t.name for t in self.tokens]!r})"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: Path, key: bytes) -> TokenRegistry:
        entries = data.get("tokens")
        if not isinstance(entries, list) or not entries:
            raise TokenConfigError(f"{source} must hold a non-empty 'tokens' list")
        tokens = tuple(_parse_entry(entry, i, source) for i, entry in enumerate(entries))
        if len({t.digest for t in tokens}) != len(tokens):
            raise TokenConfigError(f"{source} lists the same token hash twice")
        return cls(tokens, key)

    @classmethod
    def load(cls, path: Path, key: bytes | None = None) -> TokenRegistry:
        """Read a ``.toml`` or JSON tokens file (hashes under ``key``, default the install's)."""
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
        return cls.from_mapping(data, path, install_key() if key is None else key)

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
        if len(presented) < MIN_API_TOKEN_CHARS:
            return None
        digest = hash_token(presented, self.key).encode()
        found: ApiToken | None = None
        for token in self.tokens:
            if hmac.compare_digest(digest, token.digest.encode()):
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


def caller_of(scope: Mapping[str, Any]) -> str:
    """Who made the request, for threads and the audit: the token's name (never its
    secret), ``unauthenticated`` for a refused token, ``anonymous`` in open mode."""
    found = scope.get(CALLER_KEY)
    return found if isinstance(found, str) else ANONYMOUS


def presented_token(scope: Mapping[str, Any]) -> str | None:
    """The bearer credentials of a request's ``Authorization`` header, if any."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, credentials = bytes(value).decode("latin-1").partition(" ")
            return (
                credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None
            )
    return None


def identify_caller(scope: MutableMapping[str, Any], tokens: TokenRegistry | None) -> str:
    """The caller of a request no route checked (the Host guard refused it first, say):
    its token's name, so every audit row names who asked, without refusing anything."""
    if CALLER_KEY not in scope and tokens is not None:
        presented = presented_token(scope)
        token = tokens.authenticate(presented) if presented else None
        scope[CALLER_KEY] = token.name if token is not None else UNAUTHENTICATED
    return caller_of(scope)


bearer = HTTPBearer(
    auto_error=False,  # refused below with the API's own JSON and a Bearer challenge
    scheme_name="ApiToken",
    description="An API token whose salted hash is in the server's tokens file.",
)
"""The scheme OpenAPI shows on every guarded route (``/docs`` offers to send a token)."""


def _refusal(status: int, kind: str, detail: str) -> ApiError:
    challenge = {"WWW-Authenticate": 'Bearer realm="ehr-agent"'} if status == 401 else {}
    return ApiError(status, kind, detail, headers=challenge)


def authenticate_scope(
    scope: MutableMapping[str, Any], tokens: TokenRegistry | None, presented: str | None
) -> ApiToken | None:
    """Check a presented token and note the caller in the request's scope (for the audit).

    ``None`` in open mode (no tokens configured: loopback only); otherwise the token, or
    an :class:`ApiError` 401 with a Bearer challenge.
    """
    if tokens is None:
        return None
    token = tokens.authenticate(presented) if presented else None
    scope[CALLER_KEY] = token.name if token is not None else UNAUTHENTICATED
    if token is None:
        raise _refusal(
            401,
            "unauthorized",
            "This API needs 'Authorization: Bearer <token>' with a configured token.",
        )
    scope[SCOPE_KEY] = token
    return token


async def api_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> ApiToken | None:
    """The caller's token (a FastAPI security dependency); ``None`` when the API is open."""
    tokens: TokenRegistry | None = getattr(request.app.state, "tokens", None)
    return authenticate_scope(
        request.scope, tokens, credentials.credentials if credentials else None
    )


Caller = Annotated[ApiToken | None, Security(api_token)]
"""A route parameter: the authenticated token (``None`` in open mode), 401 without one."""


async def granted_patient(
    patient_id: Annotated[
        str, PathParam(pattern=ID_PATH_PATTERN, description="The patient's FHIR id.")
    ],
    token: Caller,
) -> str:
    """The route's ``patient_id`` once the caller's token grants it (403 otherwise)."""
    if token is not None and not token.allows(patient_id):
        raise _refusal(403, "forbidden", "This token does not grant this patient.")
    return patient_id


GrantedPatient = Annotated[str, Security(granted_patient)]
"""A route parameter: ``{patient_id}`` from the path, authorized for the caller."""


async def refuse_fhir_unless_all_patients(
    scope: Scope, receive: Receive, send: Send, tokens: TokenRegistry | None
) -> bool:
    """For ``/fhir`` (an ASGI mount, outside FastAPI's dependencies): answer the refusal
    and return ``True`` unless the token grants every patient (a raw resource read cannot
    be tied to a patient cheaply)."""
    presented = presented_token(scope)
    try:
        token = authenticate_scope(scope, tokens, presented)
        if token is not None and not token.all_patients:
            raise _refusal(403, "forbidden", '/fhir needs a token granting every patient ("*").')
    except ApiError as refusal:
        body = json.dumps({"detail": refusal.detail, "kind": refusal.kind}).encode()
        response = Response(body, refusal.status, refusal.headers, "application/json")
        await response(scope, receive, send)
        return True
    return False
