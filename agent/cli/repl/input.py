"""Reading the user's next line: prompt_toolkit on a terminal, plain lines from a pipe.

Why two readers: on a terminal the REPL needs history (arrow keys, persisted across
sessions) and multi-line questions, which prompt_toolkit provides; when stdin is a pipe
(``ehr-agent chat < questions.txt``, scripts, tests) there is no terminal to drive and
prompt_toolkit would only warn, so lines are read as they come.

Both follow one contract: ``read`` returns the text (continuation lines joined with
newlines), raises :class:`EOFError` at the end of input (Ctrl-D) and
:class:`KeyboardInterrupt` when Ctrl-C is pressed at the prompt.

Multi-line input on a terminal: Enter submits; Alt-Enter (or Esc then Enter) inserts
a newline; a line ending with a backslash continues on the next line.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Protocol, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

__all__ = ["CONTINUATION", "LineReader", "PlainReader", "PromptReader", "open_history"]

CONTINUATION = "... "


class LineReader(Protocol):
    """Where the session's input comes from."""

    async def read(self, prompt: str) -> str:
        """The next entry; EOFError at end of input, KeyboardInterrupt on Ctrl-C."""
        ...


def open_history(path: Path | None) -> History:
    """A history file readable by the user only (questions mention the patient's care).

    ``None`` keeps history in memory for this session only.
    """
    if path is None:
        return InMemoryHistory()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.touch(mode=0o600)
    return FileHistory(str(path))


def _bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter")
    def _submit_or_continue(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        before = buffer.document.text_before_cursor
        if buffer.document.is_cursor_at_the_end and before.endswith("\\"):
            buffer.delete_before_cursor(1)
            buffer.insert_text("\n")
        else:
            buffer.validate_and_handle()

    @bindings.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    return bindings


class PromptReader:
    """prompt_toolkit input with persistent history and multi-line editing."""

    def __init__(self, history: History) -> None:
        self._session: PromptSession[str] = PromptSession(
            multiline=True,
            key_bindings=_bindings(),
            history=history,
            prompt_continuation=CONTINUATION,
            enable_history_search=True,
        )

    async def read(self, prompt: str) -> str:
        return await self._session.prompt_async(prompt)


class PlainReader:
    """Lines from a non-terminal stdin; a trailing backslash joins the next line.

    The prompt and the line are echoed to ``output`` so a transcript of a piped
    session reads like an interactive one.
    """

    def __init__(self, stream: TextIO | None = None, output: TextIO | None = None) -> None:
        self._stream = stream or sys.stdin
        self._output = output or sys.stdout

    async def read(self, prompt: str) -> str:
        lines: list[str] = []
        current = prompt
        while True:
            self._output.write(current)
            self._output.flush()
            raw = await asyncio.to_thread(self._stream.readline)
            if not raw:
                if lines:
                    break
                self._output.write("\n")
                raise EOFError
            line = raw.rstrip("\r\n")
            self._output.write(line + "\n")
            if line.endswith("\\"):
                lines.append(line[:-1])
                current = CONTINUATION
                continue
            lines.append(line)
            break
        return "\n".join(lines)
