"""The demo record goes into the wheel inside the ``agent`` package, not as a package of its own.

Why a build hook: the fixtures live at ``synthea_fixtures/fhir`` (the repository layout is
fixed), and listing that folder as a package put a top-level ``synthea_fixtures`` module
into every user's site-packages, where it can shadow or be shadowed by anything of that
name.  ``pyproject.toml`` cannot map one outside folder into a found package, so this
hook copies the bundles to ``agent/demo_record/`` of the build; everything else about the
build is declared in ``pyproject.toml``.  :func:`agent.settings.bundled_fixtures_dir`
looks there first and falls back to the checkout's folder.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

FIXTURES = Path("synthea_fixtures") / "fhir"
PACKAGED_AS = Path("agent") / "demo_record"


class BuildWithDemoRecord(build_py):
    """``build_py`` plus the fixture bundles copied into the built ``agent`` package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / PACKAGED_AS
        self.mkpath(str(target))
        for bundle in sorted(FIXTURES.glob("*.json")):
            self.copy_file(str(bundle), str(target / bundle.name))


setup(cmdclass={"build_py": BuildWithDemoRecord})
