"""Authentication for FhirClient: a static bearer token, or SMART Backend Services.

SMART Backend Services (https://hl7.org/fhir/smart-app-launch/backend-services.html) is how
a server-side app with no user present gets an access token: it signs a short-lived JWT
with its private key and trades it at the token endpoint (OAuth ``client_credentials``).
Both classes are ``httpx.Auth`` so the client stays unaware of how tokens are obtained.

Tokens, keys and client assertions are secrets: they are never logged, never put in an
exception message and hidden from ``repr``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import secrets
import time
from collections.abc import AsyncGenerator, Callable, Collection, Generator
from typing import TYPE_CHECKING, Any

import httpx

from fhir_client.errors import (
    AuthenticationFailed,
    FhirConnectionError,
    InvalidResponse,
    body_snippet,
    error_for_status,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = [
    "BearerTokenAuth",
    "SmartBackendServicesAuth",
    "check_token_endpoint",
    "discover_token_url",
]

logger = logging.getLogger("fhir_client")

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Renew a cached token this long before it expires, so a request never carries a token
# that expires in flight.
EXPIRY_MARGIN_SECONDS = 60.0
# SMART asks servers to return expires_in; if one does not, assume the recommended maximum.
DEFAULT_EXPIRES_IN = 300.0
_MAX_ASSERTION_LIFETIME = 300


def _check_header_value(value: str, what: str) -> str:
    """Refuse values that would break (or inject into) an HTTP header."""
    value = value.strip()
    if not value or any(ch in value for ch in "\r\n"):
        raise ValueError(f"{what} is empty or contains a line break; pass the token text only")
    return value


class BearerTokenAuth(httpx.Auth):
    """Send a fixed access token as ``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._token = _check_header_value(token, "The bearer token")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerTokenAuth(token=<hidden>)"


class SmartBackendServicesAuth(httpx.Auth):
    """SMART Backend Services: signed-JWT ``client_credentials`` with a cached token.

    The token is cached until ``expires_in`` minus a safety margin; a 401 from the FHIR
    server (token revoked early, clock skew) drops it and retries the request once with a
    fresh one.  A lock makes concurrent requests share a single token fetch.  ``clock``
    (seconds since the epoch) is injectable so expiry can be tested without waiting.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        private_key_pem: str | bytes,
        *,
        key_id: str | None = None,
        algorithm: str = "RS384",
        scope: str = "system/*.read",
        assertion_lifetime_seconds: int = 300,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        url = httpx.URL(token_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"token_url {token_url!r} must be an absolute https URL")
        if url.scheme == "http" and not _is_loopback_host(url.host.lower()):
            raise ValueError(
                f"token_url {token_url!r} is plain http: the signed client assertion would "
                "cross the network in the clear; use https (http only on loopback)"
            )
        if algorithm not in ("RS384", "ES384"):
            raise ValueError(
                f"algorithm {algorithm!r} is not allowed by SMART Backend Services; "
                "use 'RS384' (RSA key) or 'ES384' (P-384 EC key)"
            )
        if not 1 <= assertion_lifetime_seconds <= _MAX_ASSERTION_LIFETIME:
            raise ValueError(
                "assertion_lifetime_seconds must be between 1 and 300 (SMART caps the "
                f"client assertion at 5 minutes), got {assertion_lifetime_seconds}"
            )
        if not client_id:
            raise ValueError("client_id is empty; pass the id the server registered for you")
        self.token_url = str(url)
        self.client_id = client_id
        self.key_id = key_id
        self.algorithm = algorithm
        self.scope = scope
        self.assertion_lifetime_seconds = assertion_lifetime_seconds
        self._key = _load_private_key(private_key_pem, algorithm)
        self._transport = transport
        self._timeout = timeout
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return (
            f"SmartBackendServicesAuth(token_url={self.token_url!r}, "
            f"client_id={self.client_id!r}, algorithm={self.algorithm!r}, scope={self.scope!r})"
        )

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError(
            "SmartBackendServicesAuth fetches tokens asynchronously; use it with "
            "httpx.AsyncClient (as FhirClient does), not httpx.Client"
        )

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._valid_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            logger.debug("FHIR server answered 401; fetching a new access token and retrying")
            await self._discard(token)
            token = await self._valid_token()
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    async def _valid_token(self) -> str:
        async with self._lock:
            if self._token is not None and self._clock() < self._expires_at:
                return self._token
            token, expires_in = await self._fetch_token()
            margin = min(EXPIRY_MARGIN_SECONDS, expires_in / 2)
            self._token = token
            self._expires_at = self._clock() + expires_in - margin
            return token

    async def _discard(self, token: str) -> None:
        """Forget ``token`` unless a concurrent request already replaced it."""
        async with self._lock:
            if self._token == token:
                self._token = None

    def client_assertion(self) -> str:
        """A freshly signed client-assertion JWT (new ``jti`` each time)."""
        now = int(self._clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "iat": now,
            "exp": now + self.assertion_lifetime_seconds,
            "jti": secrets.token_urlsafe(32),
        }
        headers: dict[str, Any] = {"typ": "JWT"}
        if self.key_id is not None:
            headers["kid"] = self.key_id
        import jwt  # only SMART backend services signs: bearer-token users never pay for it

        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=headers)

    async def _fetch_token(self) -> tuple[str, float]:
        assertion = self.client_assertion()
        form = {
            "grant_type": "client_credentials",
            "scope": self.scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=self._timeout) as http:
                response = await http.post(
                    self.token_url, data=form, headers={"Accept": "application/json"}
                )
        except httpx.TransportError as exc:
            # `from None`: the chained exception's request holds the assertion.
            raise FhirConnectionError(
                f"Could not reach the SMART token endpoint {self.token_url} "
                f"({type(exc).__name__}); check the token URL and the network"
            ) from None
        logger.debug("POST %s (token) -> %d", self.token_url, response.status_code)
        return self._read_token_response(response, assertion)

    def _read_token_response(self, response: httpx.Response, assertion: str) -> tuple[str, float]:
        def fail(diagnostics: str) -> AuthenticationFailed:
            return AuthenticationFailed(
                response.status_code,
                method="POST",
                path=self.token_url,
                diagnostics=diagnostics.replace(assertion, "<client assertion>"),
                hint=(
                    "The token endpoint refused the client credentials; check client_id, that "
                    "the server has this key's public part (and kid), the scope and the clock"
                ),
            )

        try:
            data = json.loads(response.content)
        except ValueError:
            data = None
        if not response.is_success:
            if isinstance(data, dict) and isinstance(data.get("error"), str):
                text = data["error"]
                if isinstance(data.get("error_description"), str):
                    text += f": {data['error_description']}"
                raise fail(text)
            raise fail(body_snippet(response.content))
        if not isinstance(data, dict):
            raise fail("token response is not a JSON object")
        token = data.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise fail("token response has no access_token")
        token_type = data.get("token_type", "bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise fail(f"token_type is {token_type!r}, only 'bearer' is supported")
        expires_in = data.get("expires_in", DEFAULT_EXPIRES_IN)
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or expires_in <= 0
        ):
            expires_in = DEFAULT_EXPIRES_IN
        return _check_header_value(token, "The access token"), float(expires_in)


def _load_private_key(
    private_key_pem: str | bytes, algorithm: str
) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """Parse the PEM once, up front, so a bad key fails at start-up, not on first request.

    ``cryptography`` is imported here, not with the module: every command opens a FHIR
    client, few sign JWTs, and the import costs about 0.1 s of start-up.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # No `from exc`: parser errors may quote key material.
        raise ValueError(
            "private_key_pem is not an unencrypted PEM private key; export it as "
            "'-----BEGIN PRIVATE KEY-----' (PKCS#8) without a passphrase"
        ) from None
    if algorithm == "RS384":
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("algorithm RS384 needs an RSA private key")
        return key
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
        raise ValueError("algorithm ES384 needs an EC private key on the P-384 curve")
    return key


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_token_endpoint(endpoint: str, base_url: str, trusted_hosts: Collection[str] = ()) -> str:
    """Refuse a discovered token endpoint that would leak the client assertion.

    The endpoint receives a signed credential, so a discovery document (which anyone on
    the path, or a compromised FHIR server, could have altered) may only point at https
    on the FHIR server's own host, or on a host the caller names in ``trusted_hosts``
    (an authorization server on its own host is common: name it).  Plain http is allowed
    on loopback only, for local test servers.
    """
    url, base = httpx.URL(endpoint), httpx.URL(base_url)
    host = url.host.lower()
    if url.scheme not in ("http", "https") or not host:
        raise InvalidResponse(f"the SMART token_endpoint {endpoint!r} is not an absolute URL")
    if url.scheme == "http" and not _is_loopback_host(host):
        raise InvalidResponse(
            f"the SMART token_endpoint {endpoint} is plain http; a client assertion is only "
            "sent over https (pass token_url explicitly if this is really intended)"
        )
    trusted = {h.lower() for h in trusted_hosts} | {base.host.lower()}
    if host not in trusted:
        raise InvalidResponse(
            f"the SMART token_endpoint is on {host}, not on the FHIR server's host "
            f"{base.host}; name it in trusted_hosts if that authorization server is yours"
        )
    return endpoint


async def discover_token_url(
    base_url: str, client: httpx.AsyncClient, *, trusted_hosts: Collection[str] = ()
) -> str:
    """Read ``token_endpoint`` from ``{base}/.well-known/smart-configuration``.

    The endpoint must pass :func:`check_token_endpoint` (https, and the server's own host
    or one of ``trusted_hosts``)."""
    url = base_url.strip().rstrip("/") + "/.well-known/smart-configuration"
    path = ".well-known/smart-configuration"
    try:
        response = await client.get(url, headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise FhirConnectionError(
            f"GET {path} failed ({type(exc).__name__}: {exc}); check the base URL and network"
        ) from exc
    if not response.is_success:
        raise error_for_status(
            response.status_code,
            method="GET",
            path=path,
            body=response.content,
            hint="The server does not publish SMART configuration; pass token_url explicitly",
        )
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    endpoint = data.get("token_endpoint") if isinstance(data, dict) else None
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise InvalidResponse(f"GET {path} returned no token_endpoint; pass token_url explicitly")
    return check_token_endpoint(endpoint.strip(), base_url, trusted_hosts)
