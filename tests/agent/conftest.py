"""The agent tier (graph, planner, reading, models, replay): the PostgreSQL cluster for the
checkpointer and thread-store tests; the rest run on the embedded store and scripted models."""

from tests.support.servers import postgres_cluster

__all__ = ["postgres_cluster"]
