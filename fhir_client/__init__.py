"""FHIR R4 access: an async REST client, the embedded SQLite store and the Synthea loader.

The client knows FHIR REST and nothing about agents; the same client reaches a
remote server over the network and the embedded store in-process.

The client and its authentication (httpx) are imported on first use of those names, not
with the package: listing the embedded store's patients reads SQLite and never makes a
request (``bench/startup.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fhir_client._lazy import lazy_attributes
from fhir_client.errors import (
    AuthenticationFailed,
    FhirConnectionError,
    FhirError,
    FhirHttpError,
    InvalidRequest,
    InvalidResponse,
    ResourceNotFound,
    SearchTruncated,
    ServerError,
    TooManyRequests,
)

if TYPE_CHECKING:
    from fhir_client.auth import BearerTokenAuth, SmartBackendServicesAuth, discover_token_url
    from fhir_client.client import FhirClient

_LAZY = {
    "BearerTokenAuth": "fhir_client.auth",
    "SmartBackendServicesAuth": "fhir_client.auth",
    "discover_token_url": "fhir_client.auth",
    "FhirClient": "fhir_client.client",
}
"""Names imported from their module when first asked for (PEP 562)."""


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "AuthenticationFailed",
    "BearerTokenAuth",
    "FhirClient",
    "FhirConnectionError",
    "FhirError",
    "FhirHttpError",
    "InvalidRequest",
    "InvalidResponse",
    "ResourceNotFound",
    "SearchTruncated",
    "ServerError",
    "SmartBackendServicesAuth",
    "TooManyRequests",
    "discover_token_url",
]
