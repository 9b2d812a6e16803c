"""The interactive ``ehr-agent chat`` REPL, split by concern.

* :mod:`~agent.cli.repl.input`: reading lines (prompt_toolkit on a terminal, with
  history and multi-line input; plain lines from a pipe).
* :mod:`~agent.cli.repl.patients`: choosing the patient by id or name. The user
  chooses; the model never does.
* :mod:`~agent.cli.repl.view`: how progress, answers and sources look.
* :mod:`~agent.cli.repl.session`: the loop, the slash commands, threads, and
  Ctrl-C cancelling the running answer rather than the session.
"""

from agent.cli.repl.input import LineReader, PlainReader, PromptReader
from agent.cli.repl.session import ChatSession, SessionSetup

__all__ = ["ChatSession", "LineReader", "PlainReader", "PromptReader", "SessionSetup"]
