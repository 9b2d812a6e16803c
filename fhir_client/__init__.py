"""FHIR R4 access: an async REST client, the embedded SQLite store and the Synthea loader.

The client knows FHIR REST and nothing about agents; the same client reaches a
remote server over the network and the embedded store in-process.
"""

from fhir_client.auth import BearerTokenAuth, SmartBackendServicesAuth, discover_token_url
from fhir_client.client import FhirClient
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
