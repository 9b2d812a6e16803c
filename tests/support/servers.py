"""Real servers the tests start once per session: HAPI FHIR JPA and a throwaway PostgreSQL.

These are fixtures, not a conftest, because more than one tier uses them but not every
tier: ``tests/e2e/hapi`` (HAPI only), ``tests/tools`` and ``tests/fhir_client`` (the
tests that run the same check on the embedded store and on HAPI), ``tests/agent`` (the
PostgreSQL checkpointer and thread store).  A tier's conftest imports the ones it uses.

HAPI needs Java and Maven; PostgreSQL needs Debian's binaries.  Where they are missing
the tests skip with the reason, except under ``EHR_AGENT_REQUIRE_HAPI=1`` /
``EHR_AGENT_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), where that is a failure.
``EHR_AGENT_HAPI_URL`` points the tests at an already running HAPI server.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fhir_client import FhirClient
from fhir_client.loading import load_paths
from tests.support.hapi_server import hapi, postgres
from tests.support.requirements import skip_or_fail


@pytest.fixture(scope="session")
def hapi_base_url() -> Iterator[str]:
    """Base URL of a HAPI FHIR JPA server started for this test session."""
    external = hapi.external_base_url()
    if external:
        yield external
        return
    if hapi.find_java() is None or hapi.find_maven() is None:
        skip_or_fail("HAPI FHIR tests need java and mvn on PATH", "HAPI")
    with hapi.HapiServer() as server:
        yield server.base_url


@pytest.fixture(scope="session")
def hapi_with_fixtures(hapi_base_url: str, fixtures_dir: Path) -> str:
    """The HAPI base URL once the fixtures are loaded into it (once per session).

    Only our fixtures go into this server, so any suite can compare it with an
    embedded store holding exactly the same resources.
    """

    async def load() -> None:
        async with FhirClient(hapi_base_url, timeout=600) as client:
            report = await load_paths(client, [fixtures_dir])
        assert not report.failures, [str(failure.error) for failure in report.failures]

    asyncio.run(load())
    return hapi_base_url


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[postgres.PostgresCluster]:
    """A throwaway PostgreSQL cluster for the session (``tests/support/hapi_server/postgres.py``).

    Not under pytest's temp root: that is private to root, and the cluster runs as
    ``postgres``.  Each module makes its own database
    (:meth:`~postgres.PostgresCluster.create_database`).
    """
    if not postgres.available():
        skip_or_fail(
            "PostgreSQL is not installed (apt-get install postgresql; .ci/run does)", "POSTGRES"
        )
    root = Path(tempfile.mkdtemp(prefix="ehr-agent-pg-"))
    try:
        with postgres.PostgresCluster(root, fsync=False) as cluster:
            yield cluster
    finally:
        shutil.rmtree(root, ignore_errors=True)
