"""The app as ``serve --workers N`` builds it in each worker process, from the environment.

uvicorn starts N processes that each import an app; objects cannot be handed to them, so
``ehr-agent serve`` writes its resolved options into the environment (the same variables a
user may set) and every worker calls :func:`create_from_environment`.  Each worker loads
its own model; threads, turn order, audit and the record live in shared databases.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from agent.api.host_guard import ENV_ALLOWED_HOSTS
from agent.api.security import TokenRegistry
from agent.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ENV_CHECKPOINT_DB", "create_from_environment"]

ENV_CHECKPOINT_DB = "EHR_AGENT_CHECKPOINT_DB"


def create_from_environment() -> FastAPI:
    # Imported here: the CLI imports this module for its variable names, and the app is
    # heavy (FastAPI, the record); the model is loaded only in a worker.
    from agent.api.app import create_app
    from agent.models.spec import ENV_MODEL, load_model

    spec = os.environ.get(ENV_MODEL) or "none"
    return create_app(
        Settings.resolve(),
        model=load_model(spec),
        checkpoint=os.environ.get(ENV_CHECKPOINT_DB) or None,
        tokens=TokenRegistry.resolve(None),
        allowed_hosts=(os.environ.get(ENV_ALLOWED_HOSTS) or "").split(","),
    )
