"""A loopback stand-in of the Hugging Face hub, for the model-store and CLI pull tests.

Two real HTTP servers on 127.0.0.1: the "hub" (``resolve`` redirects and the
file listing, gated when asked) and a "CDN" on another port, so redirects
cross origins exactly as huggingface.co -> its LFS CDN do. Real sockets make
streaming, a connection dropped mid-body and ``Range`` requests genuine.

Why here: ``tests/agent/models/test_model_pull_*.py`` (the store) and
``tests/app/cli/test_model_pull_cli.py`` (the CLI) drive the same stand-in; its fixtures
(``standin``, ``cache``, ``hub``) are imported by name (with ``__all__``) where used.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from agent.model_store import Hub, HubToken
from agent.model_store import download as download_module

REPO = "unsloth/medgemma-1.5-4b-it-GGUF"
MODEL = "medgemma-1.5-4b-it-Q4_K_M.gguf"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "hf_standin_SECRET_token_value"


def payload(size: int, seed: int = 7) -> bytes:
    """Deterministic, non-repeating bytes (a repeated block would hide offset bugs)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


@dataclass
class Seen:
    """One request as a server received it."""

    server: str
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class HubStandIn:
    """The hub's HTTP API for a few files, with switches for each failure."""

    files: dict[str, bytes] = field(default_factory=dict)
    """Repository path -> content, all in :data:`REPO`."""
    advertised_sha256: dict[str, str] = field(default_factory=dict)
    """Override the digest the hub announces (to provoke a checksum mismatch)."""
    required_token: str | None = None
    """When set, the repository is gated: no token -> 401, another token -> 403."""
    drop_after: int | None = None
    """The CDN closes the connection after this many body bytes, once."""
    ignore_range: bool = False
    advertise_size: bool = True
    linked_headers: bool = True
    """False: redirect without ``X-Linked-*`` (as some mirrors do); the listing has them."""
    seen: list[Seen] = field(default_factory=list)
    hub_url: str = ""
    cdn_url: str = ""

    def requests_to(self, server: str, method: str = "GET") -> list[Seen]:
        return [s for s in self.seen if s.server == server and s.method == method]

    def record(self, server: str, handler: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        self.seen.append(Seen(server, handler.command, handler.path, headers))


def _hub_handler(state: HubStandIn) -> type[BaseHTTPRequestHandler]:
    class Hub(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._resolve()

        def do_GET(self) -> None:
            if self.path.startswith(f"/api/models/{REPO}/tree/"):
                self._listing()
            else:
                self._resolve()

        def _refuse(self) -> bool:
            state.record("hub", self)
            if state.required_token is None:
                return False
            auth = self.headers.get("Authorization")
            if auth == f"Bearer {state.required_token}":
                return False
            self._send(401 if auth is None else 403, b"gated")
            return True

        def _resolve(self) -> None:
            if self._refuse():
                return
            prefix = f"/{REPO}/resolve/"
            path = unquote(urlsplit(self.path).path)
            _revision, _, filename = path.removeprefix(prefix).partition("/")
            if not path.startswith(prefix) or filename not in state.files:
                self._send(404, b"Entry not found", {"X-Error-Code": "EntryNotFound"})
                return
            data = state.files[filename]
            sha = state.advertised_sha256.get(filename, hashlib.sha256(data).hexdigest())
            headers = {
                "Location": f"{state.cdn_url}/blobs/{hashlib.sha256(data).hexdigest()}"
                f"?name={filename}&X-Amz-Signature=presigned",
                "X-Linked-Etag": f'"{sha}"',
                "X-Repo-Commit": COMMIT,
                "ETag": '"gitoid"',
            }
            if state.advertise_size:
                headers["X-Linked-Size"] = str(len(data))
            if not state.linked_headers:
                del headers["X-Linked-Etag"], headers["X-Linked-Size"]
            self._send(302, b"", headers)

        def _listing(self) -> None:
            if self._refuse():
                return
            items = [
                {
                    "type": "file",
                    "path": name,
                    "size": len(data),
                    "lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data)},
                }
                for name, data in state.files.items()
            ]
            items.append({"type": "file", "path": "README.md", "size": 10})
            self._send(200, json.dumps(items).encode(), {"Content-Type": "application/json"})

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    return Hub


def _cdn_handler(state: HubStandIn) -> type[BaseHTTPRequestHandler]:
    class Cdn(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            state.record("cdn", self)  # a URL pre-signed for GET refuses HEAD, like S3
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            state.record("cdn", self)
            digest = urlsplit(self.path).path.removeprefix("/blobs/")
            data = next(
                (d for d in state.files.values() if hashlib.sha256(d).hexdigest() == digest), None
            )
            if data is None:
                self.send_error(404)
                return
            start = 0
            wanted = self.headers.get("Range")
            if wanted and not state.ignore_range:
                start = int(wanted.removeprefix("bytes=").rstrip("-"))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if state.drop_after is not None:
                cut, state.drop_after = state.drop_after, None
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)  # mid-body, like a dropped link
                return
            self.wfile.write(body)

    return Cdn


@pytest.fixture
def standin() -> Iterator[HubStandIn]:
    state = HubStandIn()
    servers = [
        ThreadingHTTPServer(("127.0.0.1", 0), _hub_handler(state)),
        ThreadingHTTPServer(("127.0.0.1", 0), _cdn_handler(state)),
    ]
    state.hub_url, state.cdn_url = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        for s in servers
    ]
    for thread in threads:
        thread.start()
    yield state
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model cache, no ambient hub token, small download chunks."""
    directory = tmp_path / "models"
    monkeypatch.setenv("EHR_AGENT_MODELS", str(directory))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setattr(download_module, "CHUNK_BYTES", 64 * 1024)
    return directory


@contextmanager
def make_hub(standin: HubStandIn, cache: Path, token: str | None) -> Iterator[Hub]:
    """A :class:`Hub` on the stand-in with ``token`` as if from HF_TOKEN."""
    with httpx.Client(timeout=10) as client:
        wrapped = HubToken(token, "HF_TOKEN") if token else None
        yield Hub(client, endpoint=standin.hub_url, token=wrapped, cache_dir=cache)


@pytest.fixture
def hub(standin: HubStandIn, cache: Path) -> Iterator[Hub]:
    with make_hub(standin, cache, TOKEN) as made:
        yield made


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []
