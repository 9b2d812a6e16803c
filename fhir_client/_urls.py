"""URL building and checking for the FHIR client.

Resource ids often come from untrusted data (a Bundle, a model's tool call), so they are
validated against FHIR's id grammar before they become a path segment: ``../x`` must never
reach the server.  Next-page links come from the server and are only followed on the base
URL's own origin, because the client attaches its bearer token to every request.
"""

from __future__ import annotations

import httpx

from fhir_client.ids import is_fhir_id, is_resource_type

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_base_url(base_url: str) -> str:
    """Return the base URL without trailing slashes; reject what cannot be a FHIR base."""
    text = base_url.strip()
    url = httpx.URL(text)
    if url.scheme not in _DEFAULT_PORTS or not url.host:
        raise ValueError(
            f"FHIR base URL {base_url!r} must be an absolute http(s) URL, "
            "e.g. 'https://fhir.example.org/r4'"
        )
    if url.query or url.fragment:
        raise ValueError(f"FHIR base URL {base_url!r} must not contain a query string or fragment")
    return text.rstrip("/")


def check_resource_type(resource_type: str) -> str:
    """Validate a resource type name before it becomes a path segment."""
    if not is_resource_type(resource_type):
        raise ValueError(
            f"{resource_type!r} is not a FHIR resource type name "
            "(expected letters only, starting with a capital, e.g. 'Observation')"
        )
    return resource_type


def check_resource_id(resource_id: str) -> str:
    """Validate a logical id against FHIR's id grammar (and refuse '.'/'..' segments)."""
    if not is_fhir_id(resource_id) or set(resource_id) == {"."}:
        raise ValueError(
            f"{resource_id!r} is not a valid FHIR id "
            "(1-64 characters from A-Z, a-z, 0-9, '-' and '.')"
        )
    return resource_id


def origin(url: httpx.URL) -> tuple[str, str, int]:
    """(scheme, host, effective port) of a URL, for same-origin checks."""
    scheme = url.scheme.lower()
    port = url.port if url.port is not None else _DEFAULT_PORTS.get(scheme, -1)
    return scheme, url.host.lower(), port


def resolve_next_link(base_url: str, link: str) -> str:
    """Resolve a Bundle ``next`` link against the base; ``ValueError`` if another origin."""
    resolved = httpx.URL(base_url + "/").join(link.strip())
    if origin(resolved) != origin(httpx.URL(base_url)):
        scheme, host, port = origin(resolved)
        raise ValueError(f"{scheme}://{host}:{port}")
    return str(resolved)


def relative_path(base_url: str, url: str) -> str:
    """The path of ``url`` relative to the base, without query string (for errors/logs)."""
    path = httpx.URL(url).path
    base_path = httpx.URL(base_url).path.rstrip("/")
    if path == base_path or path.startswith(base_path + "/"):
        path = path[len(base_path) :]
    return path.lstrip("/") or "/"
