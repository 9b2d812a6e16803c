"""Tests that need a real HAPI FHIR JPA server (Java and Maven, or ``EHR_AGENT_HAPI_URL``).

The server, its skip-or-fail rule (``EHR_AGENT_REQUIRE_HAPI=1`` makes a missing
toolchain a failure) and the PostgreSQL cluster come from ``tests/support/servers.py``;
the tests that need a server are marked ``hapi`` so ``-m "not hapi"`` leaves out exactly
those (this tier also holds unit checks of ``hapi.py`` itself, which run everywhere).
"""

import pytest

from tests.support.hapi_server import hapi, postgres
from tests.support.requirements import skip_or_fail
from tests.support.servers import hapi_base_url, hapi_with_fixtures, postgres_cluster

__all__ = ["hapi_base_url", "hapi_on_postgres_toolchain", "hapi_with_fixtures", "postgres_cluster"]


@pytest.fixture
def hapi_on_postgres_toolchain() -> None:
    """Skip (or fail under ``EHR_AGENT_REQUIRE_POSTGRES=1``) without PostgreSQL, Java or Maven:
    the test starts its own HAPI on its own cluster."""
    if not postgres.available():
        skip_or_fail(
            "HAPI on PostgreSQL needs Debian's postgresql (initdb, pg_ctl, psql)", "POSTGRES"
        )
    if hapi.find_java() is None or hapi.find_maven() is None:
        skip_or_fail("HAPI needs Java 17+ and Maven", "POSTGRES")
