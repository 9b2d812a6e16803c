"""The FHIR client and store tier: the HAPI server for the checks that compare the embedded
store's answers with HAPI's (``test_patient_listing``); everything else runs in-process."""

from tests.support.servers import hapi_base_url, hapi_with_fixtures

__all__ = ["hapi_base_url", "hapi_with_fixtures"]
