"""What a user installs: the wheel and the sdist, built for real and inspected.

The build runs offline (``python -m build --no-isolation`` with the test environment's
setuptools). The wheel must carry the demo record and find it once installed; the sdist
must be a repository a user can build and test from: the tests, the HAPI test server's
sources, the vendored Synthea data, ``langgraph.json``. A fast subset of the tests then
runs from the unpacked sdist, importing its code, not this checkout's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "synthea_fixtures" / "fhir"

pytestmark = pytest.mark.slow

#: Tests that run from the unpacked sdist: fast, and covering the store, the client and
#: the HAPI harness's own checks (no server started).
SDIST_SUBSET = (
    "tests/fhir_client/test_store_fhir_server.py",
    "tests/fhir_client/test_store_fhir_server_includes.py",
    "tests/fhir_client/test_client_paging.py",
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and wheel of this checkout, built once per module."""
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not a source tree")
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)])
    return out


def _run(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd, env=env)
    assert result.returncode == 0, f"{cmd}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _one(directory: Path, pattern: str) -> Path:
    (found,) = directory.glob(pattern)
    return found


def _tracked(prefix: str) -> set[str]:
    """Files git tracks under ``prefix`` (relative paths); skip without git."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to list the tracked files")
    listed = _run(["git", "ls-files", prefix], cwd=ROOT).stdout.split()
    return {name for name in listed if (ROOT / name).is_file()}


def test_wheel_carries_code_page_and_demo_record(dist: Path) -> None:
    names = set(zipfile.ZipFile(_one(dist, "*.whl")).namelist())
    fixtures = {f"agent/demo_record/{p.name}" for p in FIXTURES.glob("*.json")}
    assert len(fixtures) >= 3 and fixtures <= names
    tops = {n.split("/")[0] for n in names if "/" in n and ".dist-info/" not in n}
    assert tops == {"agent", "tools", "fhir_client"}  # no generic top-level names
    assert "agent/api/static/index.html" in names
    assert {"agent/cli/__init__.py", "fhir_client/embedded/app.py", "tools/__init__.py"} <= names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    assert not any(n.startswith("agent/demo_record/") and n not in fixtures for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(_one(dist, "*.whl")).read(entry_points).decode()
    assert "ehr-agent = agent.cli:app" in text


def test_sdist_is_a_testable_source_tree(dist: Path) -> None:
    sdist = _one(dist, "*.tar.gz")
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        names = {n.removeprefix(f"{top}/") for n in archive.getnames()}
    needed = (
        _tracked("tests")
        | _tracked("synthea_fixtures/fhir")
        | {"langgraph.json", "pyproject.toml", "README.md", "Makefile", "MANIFEST.in", ".ci/run"}
    )
    assert not needed - names, sorted(needed - names)[:10]
    assert {"tests/support/hapi_server/pom.xml", "tests/support/hapi_server/hapi.py"} <= names
    assert any(n.startswith("tests/support/hapi_server/src/main/java/") for n in names)
    assert any(
        n.startswith("tests/support/data/synthea-external/") and "LICENSE" in n for n in names
    )
    leaked = [
        n
        for n in names
        if n.startswith(("tests/support/hapi_server/target", ".venv", ".scratch"))
        or n.endswith((".sqlite", ".pyc"))
    ]
    assert not leaked, leaked[:10]


def test_installed_wheel_finds_the_demo_record(dist: Path, tmp_path: Path) -> None:
    """``ehr-agent patients`` from the installed wheel fills an empty store from the
    fixtures it ships, with no checkout in sight."""
    site = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
          str(_one(dist, "*.whl"))])  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "EHR_AGENT_DB": str(tmp_path / "store.sqlite"),
    }
    env.pop("EHR_AGENT_FIXTURES", None)
    where = _run(
        [sys.executable, "-c", "import agent.settings as s; print(s.bundled_fixtures_dir())"],
        cwd=tmp_path,
        env=env,
    )
    assert Path(where.stdout.strip()).is_relative_to(site)
    listed = _run([sys.executable, "-m", "agent.cli", "patients", "--json"], cwd=tmp_path, env=env)
    ids = {patient["id"] for patient in json.loads(listed.stdout)}
    expected = {p.stem.rsplit("_", 1)[-1] for p in FIXTURES.glob("*.json") if "Info" not in p.name}
    assert ids == expected


def test_unpacked_sdist_builds_and_passes_tests(dist: Path, tmp_path: Path) -> None:
    with tarfile.open(_one(dist, "*.tar.gz")) as archive:
        archive.extractall(tmp_path, filter="data")
    tree = next(p for p in tmp_path.iterdir() if p.is_dir())
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(wheels),
          str(tree)])  # fmt: skip
    assert _one(wheels, "*.whl").stat().st_size > 1_000_000  # the demo record is in it
    env = {**os.environ, "PYTHONPATH": str(tree)}
    imported = _run([sys.executable, "-c", "import fhir_client; print(fhir_client.__file__)"],
                    cwd=tree, env=env)  # fmt: skip
    assert Path(imported.stdout.strip()).is_relative_to(tree)
    result = _run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SDIST_SUBSET],
        cwd=tree,
        env=env,
    )
    assert " passed" in result.stdout and "failed" not in result.stdout
