"""``python -m agent.cli`` runs the same CLI as the ``ehr-agent`` script."""

from agent.cli import app

app(prog_name="ehr-agent")
