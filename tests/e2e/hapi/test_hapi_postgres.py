"""HAPI FHIR JPA on a real PostgreSQL: the records the loader sends land in PostgreSQL.

The conformance suite runs against this server with
``python tests/support/hapi_server/hapi.py start --postgres DIR`` and ``EHR_AGENT_HAPI_URL``;
this test proves the option itself: a private cluster (Debian's initdb/pg_ctl), HAPI
started on it, one fixture patient loaded, read back, and counted in HAPI's own table.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest

from fhir_client import FhirClient
from fhir_client.loading import load_paths
from tests.support.hapi_server import hapi, postgres

pytestmark = [pytest.mark.hapi, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parents[3] / "synthea_fixtures" / "fhir"


def test_hapi_on_postgresql_stores_what_the_loader_sends(hapi_on_postgres_toolchain: None) -> None:
    files = sorted(FIXTURES.glob("*.json"))
    patient = min((p for p in files if "Information" not in p.name), key=lambda p: p.stat().st_size)
    reference = [p for p in files if "Information" in p.name]
    # Not pytest's tmp_path: as root, initdb runs as the postgres user, who cannot enter
    # pytest's private temporary tree.
    directory = Path(tempfile.mkdtemp(prefix="ehr-agent-hapi-pg-"))
    directory.chmod(0o755)  # mkdtemp's 0700 would keep the postgres user out
    try:
        _load_into_hapi_on(directory, reference, patient)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _load_into_hapi_on(directory: Path, reference: list[Path], patient: Path) -> None:
    with postgres.PostgresCluster(directory / "pg") as cluster:
        cluster.create_database("hapi")
        with hapi.HapiServer(jdbc_url=cluster.jdbc_url("hapi"), startup_timeout=900) as server:

            async def load_and_read() -> tuple[int, str]:
                async with FhirClient(server.base_url, timeout=600) as client:
                    report = await load_paths(client, [*reference, patient])
                    assert not report.failures, [str(f.error) for f in report.failures]
                    patient_id = patient.stem.rsplit("_", 1)[-1]
                    read = await client.read("Patient", patient_id)
                    return report.resource_count, str(read["id"])

            loaded, read_id = asyncio.run(load_and_read())
            assert read_id == patient.stem.rsplit("_", 1)[-1]
            rows = int(cluster.psql("SELECT count(*) FROM hfj_resource", "hapi"))
            assert rows == loaded
