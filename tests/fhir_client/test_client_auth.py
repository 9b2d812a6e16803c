"""Auth for FhirClient: static bearer tokens and the SMART Backend Services token exchange."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fhir_client.auth import BearerTokenAuth, SmartBackendServicesAuth, discover_token_url
from fhir_client.client import FhirClient
from fhir_client.errors import AuthenticationFailed, InvalidResponse

BASE = "https://fhir.example.org/r4"
TOKEN_URL = "https://auth.example.org/oauth2/token"
PATIENT = {"resourceType": "Patient", "id": "p1"}


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


class Clock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class TokenServer:
    """A token endpoint that hands out token-1, token-2, ... and records the forms."""

    def __init__(self, expires_in: int = 300) -> None:
        self.expires_in = expires_in
        self.forms: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        self.forms.append(form)
        return httpx.Response(
            200,
            json={
                "access_token": f"token-{len(self.forms)}",
                "token_type": "bearer",
                "expires_in": self.expires_in,
                "scope": form.get("scope", ""),
            },
        )


def smart_auth(key: rsa.RSAPrivateKey, **kwargs: Any) -> SmartBackendServicesAuth:
    return SmartBackendServicesAuth(TOKEN_URL, "my-client", pem(key), **kwargs)


def bearer_of(request: httpx.Request) -> str:
    return request.headers["Authorization"]


# ---------------------------------------------------------------- static bearer token


async def test_bearer_token_sent_on_every_request(router: respx.MockRouter) -> None:
    route = router.get(f"{BASE}/Patient/p1").respond(200, json=PATIENT)
    async with FhirClient(BASE, auth=BearerTokenAuth("s3cr3t-token")) as fhir:
        await fhir.read("Patient", "p1")
        await fhir.read("Patient", "p1")
    assert [bearer_of(c.request) for c in route.calls] == ["Bearer s3cr3t-token"] * 2


async def test_no_auth_sends_no_authorization_header(router: respx.MockRouter) -> None:
    route = router.get(f"{BASE}/Patient/p1").respond(200, json=PATIENT)
    async with FhirClient(BASE) as fhir:
        await fhir.read("Patient", "p1")
    assert "Authorization" not in route.calls[0].request.headers


def test_bearer_repr_hides_token() -> None:
    auth = BearerTokenAuth("s3cr3t-token")
    assert "s3cr3t" not in repr(auth)
    assert "s3cr3t" not in str(auth)


@pytest.mark.parametrize("token", ["", "   ", "abc\r\nX-Evil: 1"])
def test_bearer_rejects_empty_or_multiline_token(token: str) -> None:
    with pytest.raises(ValueError, match="bearer token"):
        BearerTokenAuth(token)


# ---------------------------------------------------------------- SMART Backend Services


async def test_smart_token_request_form_and_signed_assertion(
    router: respx.MockRouter, rsa_key: rsa.RSAPrivateKey
) -> None:
    tokens = TokenServer()
    token_route = router.post(TOKEN_URL).mock(side_effect=tokens)
    fhir_route = router.get(f"{BASE}/Patient/p1").respond(200, json=PATIENT)
    auth = smart_auth(rsa_key, key_id="key-2024", scope="system/Patient.rs")
    async with FhirClient(BASE, auth=auth) as fhir:
        await fhir.read("Patient", "p1")

    request = token_route.calls[0].request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = tokens.forms[0]
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "system/Patient.rs"
    assert form["client_assertion_type"] == (
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )
    assertion = form["client_assertion"]
    claims = jwt.decode(assertion, rsa_key.public_key(), algorithms=["RS384"], audience=TOKEN_URL)
    assert claims["iss"] == claims["sub"] == "my-client"
    assert claims["aud"] == TOKEN_URL
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert len(claims["jti"]) >= 16
    header = jwt.get_unverified_header(assertion)
    assert header["alg"] == "RS384"
    assert header["kid"] == "key-2024"
    assert bearer_of(fhir_route.calls[0].request) == "Bearer token-1"


async def test_assertion_from_other_key_does_not_verify(rsa_key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assertion = smart_auth(rsa_key).client_assertion()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(assertion, other.public_key(), algorithms=["RS384"], audience=TOKEN_URL)


def test_each_assertion_has_a_fresh_jti(rsa_key: rsa.RSAPrivateKey) -> None:
    auth = smart_auth(rsa_key, assertion_lifetime_seconds=120, clock=Clock())
    first, second = auth.client_assertion(), auth.client_assertion()
    public = rsa_key.public_key()
    # The injected clock is in the past, so only the expiry check is switched off.
    a, b = (
        jwt.decode(
            token,
            public,
            algorithms=["RS384"],
            audience=TOKEN_URL,
            options={"verify_exp": False},
        )
        for token in (first, second)
    )
    assert a["jti"] != b["jti"]
    assert a["iat"] == 1_700_000_000
    assert a["exp"] == 1_700_000_120
    assert "kid" not in jwt.get_unverified_header(first)


async def test_es384_key_is_supported(router: respx.MockRouter) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    tokens = TokenServer()
    router.post(TOKEN_URL).mock(side_effect=tokens)
    router.get(f"{BASE}/Patient/p1").respond(200, json=PATIENT)
    auth = SmartBackendServicesAuth(TOKEN_URL, "my-client", pem(key).decode(), algorithm="ES384")
    async with FhirClient(BASE, auth=auth) as fhir:
        await fhir.read("Patient", "p1")
    claims = jwt.decode(
        tokens.forms[0]["client_assertion"],
        key.public_key(),
        algorithms=["ES384"],
        audience=TOKEN_URL,
    )
    assert claims["iss"] == "my-client"


async def test_token_is_cached_across_requests(
    router: respx.MockRouter, rsa_key: rsa.RSAPrivateKey
) -> None:
    token_route = router.post(TOKEN_URL).mock(side_effect=TokenServer())
    fhir_route = router.get(f"{BASE}/Patient/p1").respond(200, json=PATIENT)
    async with FhirClient(BASE, auth=smart_auth(rsa_key)) as fhir:
        for _ in range(3):
            await fhir.read("Patient", "p1")
    assert token_route.call_count == 1
    assert {bearer_of(c.request) for c in fhir_route.calls} == {"Bearer token-1"}


async def test_concurrent_requests_share_one_token_fetch(
    router: respx.MockRouter, rsa_key: rsa.RSAPrivateKey
) -> None:
    tokens = TokenServer()

    async def slow_token_server(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)  # let the other requests reach the token lock
        return tokens(request)

    token_route = router.post(TOKEN_URL).mock(side_effect=slow_token_server)
    router.get(f"{BASE}/Patient/p1").respond(200, json=PATIENT)
    async with FhirClient(BASE, auth=smart_auth(rsa_key)) as fhir:
        await asyncio.gather(*(fhir.read("Patient", "p1") for _ in range(5)))
    assert token_route.call_count == 1


async def test_token_refreshed_after_expiry(
    router: respx.MockRouter, rsa_key: rsa.RSAPrivateKey
) -> None:
    clock = Clock()
    token_route = router.post(TOKEN_URL).mock(side_effect=TokenServer(expires_in=300))
    fhir_route = router.get(f"{BASE}/Patient/p1").respond(200, json=PATIENT)
    async with FhirClient(BASE, auth=smart_auth(rsa_key, clock=clock)) as fhir:
        await fhir.read("Patient", "p1")
        clock.now += 200  # still inside expires_in minus the 60 s margin
        await fhir.read("Patient", "p1")
        clock.now += 45  # 245 s: within the margin, renew
        await fhir.read("Patient", "p1")
    assert token_route.call_count == 2
    assert [bearer_of(c.request) for c in fhir_route.calls] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]


async def test_401_drops_token_and_retries_once(
    router: respx.MockRouter, rsa_key: rsa.RSAPrivateKey
) -> None:
    token_route = router.post(TOKEN_URL).mock(side_effect=TokenServer())
    fhir_route = router.get(f"{BASE}/Patient/p1").mock(
        side_effect=[httpx.Response(401), httpx.Response(200, json=PATIENT)]
    )
    async with FhirClient(BASE, auth=smart_auth(rsa_key)) as fhir:
        assert await fhir.read("Patient", "p1") == PATIENT
    assert token_route.call_count == 2
    assert [bearer_of(c.request) for c in fhir_route.calls] == ["Bearer token-1", "Bearer token-2"]


async def test_persistent_401_raises_after_one_refresh(
    router: respx.MockRouter, rsa_key: rsa.RSAPrivateKey
) -> None:
    token_route = router.post(TOKEN_URL).mock(side_effect=TokenServer())
    fhir_route = router.get(f"{BASE}/Patient/p1").respond(401)
    async with FhirClient(BASE, auth=smart_auth(rsa_key)) as fhir:
        with pytest.raises(AuthenticationFailed) as info:
            await fhir.read("Patient", "p1")
    assert info.value.status_code == 401
    assert token_route.call_count == 2
    assert fhir_route.call_count == 2


async def test_token_endpoint_error_is_authentication_failed_without_assertion(
    router: respx.MockRouter, rsa_key: rsa.RSAPrivateKey
) -> None:
    seen: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        assertion = parse_qs(request.content.decode())["client_assertion"][0]
        seen.append(assertion)
        return httpx.Response(
            400,
            json={
                "error": "invalid_client",
                "error_description": f"signature check failed for {assertion}",
            },
        )

    router.post(TOKEN_URL).mock(side_effect=refuse)
    fhir_route = router.get(f"{BASE}/Patient/p1").respond(200, json=PATIENT)
    auth = smart_auth(rsa_key)
    async with FhirClient(BASE, auth=auth) as fhir:
        with pytest.raises(AuthenticationFailed) as info:
            await fhir.read("Patient", "p1")
    error = info.value
    assert error.status_code == 400
    assert error.diagnostics.startswith("invalid_client: signature check failed")
    assert seen[0] not in str(error)
    assert seen[0] not in repr(error)
    assert seen[0] not in error.diagnostics
    assert not fhir_route.called
    assert "BEGIN" not in repr(auth)


async def test_token_endpoint_html_error_gives_snippet(
    router: respx.MockRouter, rsa_key: rsa.RSAPrivateKey
) -> None:
    router.post(TOKEN_URL).respond(500, text="<h1>Internal error</h1>")
    async with FhirClient(BASE, auth=smart_auth(rsa_key)) as fhir:
        with pytest.raises(AuthenticationFailed) as info:
            await fhir.read("Patient", "p1")
    assert info.value.diagnostics == "Internal error"


@pytest.mark.parametrize(
    "body",
    [{"token_type": "bearer"}, {"access_token": "t", "token_type": "mac"}],
)
async def test_unusable_token_response_is_authentication_failed(
    router: respx.MockRouter, rsa_key: rsa.RSAPrivateKey, body: dict[str, str]
) -> None:
    router.post(TOKEN_URL).respond(200, json=body)
    async with FhirClient(BASE, auth=smart_auth(rsa_key)) as fhir:
        with pytest.raises(AuthenticationFailed):
            await fhir.read("Patient", "p1")


def test_bad_key_or_settings_are_rejected(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="not an unencrypted PEM private key") as info:
        SmartBackendServicesAuth(TOKEN_URL, "c", "-----BEGIN PRIVATE KEY-----\nAAAA\n")
    assert "AAAA" not in str(info.value)
    with pytest.raises(ValueError, match="ES384 needs an EC private key"):
        smart_auth(rsa_key, algorithm="ES384")
    with pytest.raises(ValueError, match="RS384"):
        smart_auth(rsa_key, algorithm="HS256")
    with pytest.raises(ValueError, match="5 minutes"):
        smart_auth(rsa_key, assertion_lifetime_seconds=600)


async def test_discover_token_url(router: respx.MockRouter) -> None:
    router.get(f"{BASE}/.well-known/smart-configuration").respond(
        200, content=json.dumps({"token_endpoint": TOKEN_URL}).encode()
    )
    async with httpx.AsyncClient() as http:
        found = await discover_token_url(BASE + "/", http, trusted_hosts=["auth.example.org"])
    assert found == TOKEN_URL


@pytest.mark.parametrize(
    ("endpoint", "refusal"),
    [
        ("https://attacker.example.net/token", "not on the FHIR server's host"),
        ("http://fhir.example.org/token", "plain http"),
        ("http://auth.example.org/oauth2/token", "plain http"),
        ("/relative/token", "not an absolute URL"),
    ],
)
async def test_smart_discovery_refuses_another_host_or_plain_http(
    router: respx.MockRouter, endpoint: str, refusal: str
) -> None:
    router.get(f"{BASE}/.well-known/smart-configuration").respond(
        200, json={"token_endpoint": endpoint}
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(InvalidResponse, match=refusal):
            await discover_token_url(BASE, http, trusted_hosts=["auth.example.org"])
        same_host = "https://fhir.example.org/auth/token"
        router.get(f"{BASE}/.well-known/smart-configuration").respond(
            200, json={"token_endpoint": same_host}
        )
        assert await discover_token_url(BASE, http) == same_host


def test_smart_auth_refuses_a_plain_http_token_url(rsa_key: rsa.RSAPrivateKey) -> None:
    key = pem(rsa_key)
    with pytest.raises(ValueError, match="plain http"):
        SmartBackendServicesAuth("http://auth.example.org/token", "client", key)
    SmartBackendServicesAuth("http://127.0.0.1:9/token", "client", key)  # loopback: tests


async def test_discover_token_url_without_endpoint(router: respx.MockRouter) -> None:
    router.get(f"{BASE}/.well-known/smart-configuration").respond(200, json={"issuer": "x"})
    async with httpx.AsyncClient() as http:
        with pytest.raises(InvalidResponse, match="token_url"):
            await discover_token_url(BASE, http)


async def test_bearer_token_sent_on_next_page_requests(router: respx.MockRouter) -> None:
    page2 = router.get(f"{BASE}/Observation", params={"page": "2"}).respond(
        200, json={"resourceType": "Bundle", "type": "searchset"}
    )
    router.get(f"{BASE}/Observation").respond(
        200,
        json={
            "resourceType": "Bundle",
            "type": "searchset",
            "link": [{"relation": "next", "url": f"{BASE}/Observation?page=2"}],
        },
    )
    async with FhirClient(BASE, auth=BearerTokenAuth("s3cr3t-token")) as fhir:
        await fhir.search("Observation")
    assert bearer_of(page2.calls[0].request) == "Bearer s3cr3t-token"
