"""The tools tier: the HAPI server for ``test_tools_on_synthea``'s second backend (the same
tool calls over HAPI as over the embedded store, marked ``hapi``)."""

from tests.support.servers import hapi_base_url, hapi_with_fixtures

__all__ = ["hapi_base_url", "hapi_with_fixtures"]
