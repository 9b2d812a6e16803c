"""The dashboard backend: an HTTP API and a web page over the agent (``ehr-agent serve``).

    from agent.api import create_app
    app = create_app(model=None, checkpoint=":memory:")   # serve with any ASGI server

See ``agent/api/README.md`` for the endpoints and for using the graph from Python.
"""

from agent.api.app import ClientFactory, create_app

__all__ = ["ClientFactory", "create_app"]
