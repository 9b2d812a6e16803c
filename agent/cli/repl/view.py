"""How the chat looks: progress lines, the streamed answer, sources and reminders.

Kept apart from the session logic so the REPL can be tested by reading what a
:class:`ChatView` printed to an in-memory console, and so the look of sources is the
one ``ask`` uses (:func:`agent.cli.rendering.sources_table`).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from agent.cli.ask_commands import DISCLAIMER
from agent.cli.rendering import sources_table
from agent.cli.repl.patients import PatientChoice
from agent.output import AgentOutput
from agent.summary import SummaryOutput

__all__ = ["DISCLAIMER", "HELP", "ChatView", "format_call"]

HELP = """\
Ask a question about the patient's record in plain words; every fact is cited.
Enter sends. Alt-Enter (or Esc, Enter), or a line ending in \\, continues the question.
Ctrl-C cancels the answer being written; at the prompt it clears the line, twice leaves.

  /patient [ID or NAME]  choose the patient (lists them without an argument); new thread
  /summary               the patient's cited overview (problems, medications, labs, ...)
  /sources               the cited sources of the last answer again
  /new                   start a new conversation thread (follow-ups forget the old one)
  /model [SPEC]          show or switch the model: none, medgemma, PATH.gguf, openai:URL#model
  /help                  this help
  /quit                  leave (also Ctrl-D)"""


def format_call(tool: str, arguments: dict[str, Any]) -> str:
    """``lab_results(name='HbA1c', mode='latest')``: a tool call as the user reads it."""
    shown = ", ".join(f"{key}={value!r}" for key, value in arguments.items())
    return f"{tool}({shown})"


class ChatView:
    """Everything the chat prints, on one rich console (stdout by default)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self._streamed: list[str] = []
        self._attempt = 0

    # Plain messages -----------------------------------------------------------------
    def _plain(self, text: str, style: str | None = None) -> None:
        self.console.print(text, style=style, highlight=False, markup=False, soft_wrap=True)

    def info(self, text: str) -> None:
        self._plain(text)

    def notice(self, text: str) -> None:
        """Something worth knowing that is not an answer (default model, store filling)."""
        self._plain(text, style="dim")

    def error(self, text: str) -> None:
        self._plain(f"Error: {text}", style="red")

    def help(self) -> None:
        self._plain(HELP)

    # Patients -----------------------------------------------------------------------
    def patients(self, choices: list[PatientChoice], title: str) -> None:
        table = Table(title=title, title_justify="left", pad_edge=False)
        table.add_column("Id", no_wrap=True)
        table.add_column("Name")
        table.add_column("Birth date", no_wrap=True)
        for choice in choices:
            table.add_row(choice.id, choice.name, choice.birth_date)
        self.console.print(table)

    # One answer ---------------------------------------------------------------------
    def begin_answer(self) -> None:
        self._streamed = []
        self._attempt = 0

    def tool_call(self, tool: str, arguments: dict[str, Any]) -> None:
        self._plain(f"→ {format_call(tool, arguments)}", style="dim")

    def evidence(self, tool: str, count: int, error: str | None) -> None:
        if error:
            self._plain(f"  {tool} failed: {error}", style="yellow")
        elif count == 0:
            self._plain("  nothing found", style="dim")

    def token(self, text: str, attempt: int) -> None:
        """Stream a piece of the model's draft; a repair attempt starts a fresh draft."""
        if attempt != self._attempt:
            if self._streamed:
                self.console.print()
                self._plain("(checking citations: rewriting the answer)", style="dim")
            self._streamed = []
            self._attempt = attempt
        self._streamed.append(text)
        self.console.print(text, end="", highlight=False, markup=False, soft_wrap=True)

    def answer(self, output: AgentOutput) -> None:
        """The checked answer (unless the stream already showed it), sources, reminder."""
        streamed = "".join(self._streamed).strip()
        if streamed:
            self.console.print()
        if streamed != output.answer.strip():
            if streamed:
                self._plain("Checked answer:", style="dim")
            self._plain(output.answer)
        for note in output.notes:
            self._plain(note, style="dim")
        self.sources(output)
        self.reminder()

    def sources(self, output: AgentOutput) -> None:
        if any(citation.verified for citation in output.citations):
            self.console.print(sources_table(output))
        else:
            self._plain("No verified sources for this answer.", style="dim")

    def reminder(self) -> None:
        self._plain(DISCLAIMER, style="dim")

    def cancelled(self) -> None:
        self.console.print()
        self._plain("Cancelled; the answer was not finished.", style="yellow")

    def summary(self, output: SummaryOutput) -> None:
        self._plain(output.text)
        self.reminder()
