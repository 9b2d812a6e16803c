"""Where the assistant's data comes from: the embedded store or a remote FHIR server.

One place decides this for every command (``load``, ``patients``, and later
``ask``, ``chat``, ``serve``) so they can never disagree about which record
they are looking at. Precedence: command-line option, then environment
variable, then default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

ENV_DB = "EHR_AGENT_DB"
ENV_FHIR_URL = "EHR_AGENT_FHIR_URL"
ENV_FHIR_TOKEN = "EHR_AGENT_FHIR_TOKEN"  # the variable's name, not a secret
ENV_FIXTURES = "EHR_AGENT_FIXTURES"

APP_NAME = "ehr-agent"


def default_db_path() -> Path:
    """The embedded store in the per-user data directory (survives across runs, not in the repo)."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "store.sqlite"


def bundled_fixtures_dir() -> Path:
    """The demo Synthea bundles, used to fill an empty embedded store.

    An installed wheel carries them as ``agent/demo_record`` (copied there by the build,
    see ``setup.py``); a checkout has them in ``synthea_fixtures/fhir``, rather than
    ``synthea_fixtures``, which also holds the generator's working tree (other runs'
    output, module JSON) on a machine where the fixtures were generated.
    """
    packaged = Path(__file__).resolve().parent / "demo_record"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[1] / "synthea_fixtures" / "fhir"


@dataclass(frozen=True)
class Settings:
    """Resolved data-source settings.

    ``fhir_url`` set means a remote server; otherwise the embedded store at
    ``db_path``. ``fhir_token`` is excluded from ``repr`` so it never reaches
    a log line or a traceback.
    """

    db_path: Path = field(default_factory=default_db_path)
    fhir_url: str | None = None
    fhir_token: str | None = field(default=None, repr=False)
    fixtures_dir: Path = field(default_factory=bundled_fixtures_dir)

    @property
    def uses_embedded_store(self) -> bool:
        return not self.fhir_url

    @property
    def source_description(self) -> str:
        """Human text naming the data source, for messages on stderr."""
        if self.fhir_url:
            return f"FHIR server {self.fhir_url}"
        return f"embedded store {self.db_path}"

    @classmethod
    def resolve(
        cls,
        *,
        db_path: Path | None = None,
        fhir_url: str | None = None,
        fhir_token: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Combine explicit values (e.g. CLI options) with the environment and defaults."""
        env = os.environ if environ is None else environ
        db = db_path or (Path(env[ENV_DB]) if env.get(ENV_DB) else default_db_path())
        fixtures = Path(env[ENV_FIXTURES]) if env.get(ENV_FIXTURES) else bundled_fixtures_dir()
        return cls(
            db_path=db.expanduser(),
            fhir_url=fhir_url or env.get(ENV_FHIR_URL) or None,
            fhir_token=fhir_token or env.get(ENV_FHIR_TOKEN) or None,
            fixtures_dir=fixtures.expanduser(),
        )
