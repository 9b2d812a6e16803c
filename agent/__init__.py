"""The ehr-agent assistant: LangGraph graph, model backends, citations and the CLI."""
