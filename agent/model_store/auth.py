"""Which hub to talk to and with which token, the way the hub's own tools decide.

Why mirror huggingface_hub's rules rather than invent ours: a user who ran
``huggingface-cli login`` or exported ``HF_TOKEN`` for other tools expects
this one to just work, and ``HF_ENDPOINT`` is how mirrors are configured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_ENDPOINT", "HubToken", "find_token", "hub_endpoint", "token_file_path"]

DEFAULT_ENDPOINT = "https://huggingface.co"
_TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


@dataclass(frozen=True)
class HubToken:
    """A hub access token that never shows its value in a repr, str or log line.

    ``source`` says where it came from (a variable name or a file path) so
    messages can tell the user which token was used without printing it.
    """

    value: str = field(repr=False)
    source: str

    def __str__(self) -> str:
        return f"<hub token from {self.source}>"

    def authorization(self) -> dict[str, str]:
        """The request header that carries the token."""
        return {"Authorization": f"Bearer {self.value}"}


def hub_endpoint() -> str:
    """The hub's base URL: ``HF_ENDPOINT`` (a mirror, or a test stand-in) or huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def token_file_path() -> Path:
    """Where ``huggingface-cli login`` stores the token (``HF_TOKEN_PATH``, ``HF_HOME``)."""
    explicit = os.environ.get("HF_TOKEN_PATH")
    if explicit:
        return Path(explicit).expanduser()
    hf_home = os.environ.get("HF_HOME")
    if hf_home:
        return Path(hf_home).expanduser() / "token"
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(cache_home).expanduser() / "huggingface" / "token"


def find_token() -> HubToken | None:
    """The user's hub token: environment first, then the login file; None when absent."""
    for name in _TOKEN_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            return HubToken(value, name)
    path = token_file_path()
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError, PermissionError, UnicodeDecodeError):
        return None
    return HubToken(value, str(path)) if value else None
