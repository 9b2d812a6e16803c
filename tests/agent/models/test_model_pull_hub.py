"""``agent.model_store`` against a loopback stand-in of the Hugging Face hub.

Two real HTTP servers on 127.0.0.1: the "hub" (``resolve`` redirects and the
file listing, gated when asked) and a "CDN" on another port, so redirects
cross origins exactly as huggingface.co -> its LFS CDN do. Real sockets make
streaming, a connection dropped mid-body and ``Range`` requests genuine.
The CLI tests in ``test_model_pull_cli.py`` reuse :class:`HubStandIn`.
"""

from __future__ import annotations

import hashlib
import json
import logging
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

from agent.model_store import (
    ChecksumMismatch,
    DownloadInterrupted,
    GatedRepository,
    Hub,
    HubToken,
    HubUnreachable,
    RemoteFileNotFound,
    find_token,
    pull_file,
)
from agent.model_store import download as download_module
from agent.models.spec import find_medgemma

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


def test_pull_reports_progress_verifies_and_places_the_file(
    standin: HubStandIn, hub: Hub, cache: Path
) -> None:
    data = payload(1_000_000)
    standin.files[MODEL] = data
    calls: list[tuple[int, int | None]] = []

    pulled = pull_file(hub, REPO, MODEL, on_progress=lambda d, t: calls.append((d, t)))

    assert pulled.path == cache / MODEL
    assert pulled.path.read_bytes() == data
    assert pulled.sha256 == hashlib.sha256(data).hexdigest()
    assert (pulled.resumed_from, pulled.already_present) == (0, False)
    done = [d for d, _ in calls]
    assert len(calls) >= 10 and done == sorted(set(done)) and done[-1] == len(data)
    assert {t for _, t in calls} == {len(data)}
    assert leftovers(cache) == [MODEL, f"{MODEL}.sha256"]
    assert find_medgemma() == pulled.path  # the name spec.py looks for
    # The GET was pinned to the commit the HEAD reported.
    assert f"/resolve/{COMMIT}/" in standin.requests_to("hub")[0].path


def test_token_goes_to_the_hub_but_not_to_the_cross_origin_cdn(
    standin: HubStandIn, hub: Hub
) -> None:
    standin.files[MODEL] = payload(10_000)
    standin.required_token = TOKEN

    pull_file(hub, REPO, MODEL)

    hub_calls = [s for s in standin.seen if s.server == "hub"]
    cdn_calls = standin.requests_to("cdn")
    assert hub_calls and all(s.headers["authorization"] == f"Bearer {TOKEN}" for s in hub_calls)
    assert cdn_calls and all("authorization" not in s.headers for s in cdn_calls)


def test_a_second_pull_of_a_verified_file_fetches_nothing(standin: HubStandIn, hub: Hub) -> None:
    standin.files[MODEL] = payload(50_000)
    pull_file(hub, REPO, MODEL)
    again = pull_file(hub, REPO, MODEL)
    assert again.already_present
    assert len(standin.requests_to("cdn")) == 1


def test_without_linked_headers_the_digest_comes_from_the_listing(
    standin: HubStandIn, hub: Hub
) -> None:
    data = payload(70_000)
    standin.files[MODEL] = data
    standin.linked_headers = False

    pulled = pull_file(hub, REPO, MODEL)

    assert pulled.sha256 == hashlib.sha256(data).hexdigest()
    assert any("/api/models/" in s.path for s in standin.requests_to("hub"))
    assert not standin.requests_to("cdn", "HEAD")  # pre-signed URLs are for GET only


def test_checksum_mismatch_is_rejected_and_nothing_is_left(
    standin: HubStandIn, hub: Hub, cache: Path
) -> None:
    data = payload(300_000)
    standin.files[MODEL] = data
    standin.advertised_sha256[MODEL] = "ab" * 32

    with pytest.raises(ChecksumMismatch) as info:
        pull_file(hub, REPO, MODEL)

    message = str(info.value)
    assert f"expected {'ab' * 32}, got {hashlib.sha256(data).hexdigest()}" in message
    assert "the download was removed, run the command again" in message
    assert leftovers(cache) == []


def test_an_interrupted_download_is_kept_and_resumed_with_range(
    standin: HubStandIn, hub: Hub, cache: Path
) -> None:
    data = payload(1_000_000)
    standin.files[MODEL] = data
    standin.drop_after = 400_000

    with pytest.raises(DownloadInterrupted, match="run the command again to resume"):
        pull_file(hub, REPO, MODEL, attempts=1)

    part = cache / f"{MODEL}.part"
    kept = part.stat().st_size
    assert 0 < kept <= 400_000 and part.read_bytes() == data[:kept]
    assert not (cache / MODEL).exists()

    calls: list[int] = []
    pulled = pull_file(hub, REPO, MODEL, on_progress=lambda d, t: calls.append(d))

    resume = standin.requests_to("cdn")[-1]
    assert resume.headers["range"] == f"bytes={kept}-"
    assert pulled.resumed_from == kept and calls[0] == kept
    assert pulled.path.read_bytes() == data
    assert pulled.sha256 == hashlib.sha256(data).hexdigest()
    assert leftovers(cache) == [MODEL, f"{MODEL}.sha256"]


def test_a_broken_transfer_is_resumed_within_the_same_pull(standin: HubStandIn, hub: Hub) -> None:
    data = payload(500_000)
    standin.files[MODEL] = data
    standin.drop_after = 200_000

    pulled = pull_file(hub, REPO, MODEL, retry_delay_seconds=0)

    first, second = standin.requests_to("cdn")
    assert "range" not in first.headers and second.headers["range"].startswith("bytes=")
    assert pulled.path.read_bytes() == data


def test_a_server_that_ignores_range_restarts_the_file_cleanly(
    standin: HubStandIn, hub: Hub, cache: Path
) -> None:
    data = payload(400_000)
    standin.files[MODEL] = data
    standin.ignore_range = True
    cache.mkdir(parents=True)
    stale = b"stale bytes from another version"
    (cache / f"{MODEL}.part").write_bytes(stale)

    pulled = pull_file(hub, REPO, MODEL)

    assert standin.requests_to("cdn")[0].headers["range"] == f"bytes={len(stale)}-"
    assert pulled.path.read_bytes() == data  # the stale prefix was dropped, not kept
    assert leftovers(cache) == [MODEL, f"{MODEL}.sha256"]


def test_416_on_a_complete_part_verifies_it(standin: HubStandIn, hub: Hub, cache: Path) -> None:
    data = payload(100_000)
    standin.files[MODEL] = data
    standin.advertise_size = False  # so the client must ask, and hears 416
    cache.mkdir(parents=True)
    (cache / f"{MODEL}.part").write_bytes(data)

    pulled = pull_file(hub, REPO, MODEL)

    assert standin.requests_to("cdn")[0].headers["range"] == f"bytes={len(data)}-"
    assert pulled.path.read_bytes() == data and pulled.resumed_from == len(data)


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("hf_wrong_SECRET_value", 403)])
def test_gated_repository_says_how_to_get_access_without_leaking_the_token(
    standin: HubStandIn,
    cache: Path,
    caplog: pytest.LogCaptureFixture,
    token: str | None,
    status: int,
) -> None:
    standin.files[MODEL] = payload(1000)
    standin.required_token = TOKEN
    caplog.set_level(logging.DEBUG)

    with make_hub(standin, cache, token) as hub, pytest.raises(GatedRepository) as info:
        pull_file(hub, REPO, MODEL)

    message = str(info.value)
    assert f"HTTP {status}" in message
    assert f"https://huggingface.co/{REPO}" in message
    assert "accept" in message and "HF_TOKEN" in message and "huggingface-cli login" in message
    assert ("without a token" in message) == (token is None)
    for secret in (TOKEN, "hf_wrong_SECRET_value"):
        assert secret not in message and secret not in caplog.text
    assert leftovers(cache) == []


def test_missing_file_lists_the_gguf_files_the_repository_has(
    standin: HubStandIn, hub: Hub
) -> None:
    standin.files[MODEL] = payload(1000)
    standin.files["mmproj-F16.gguf"] = payload(500, seed=2)

    with pytest.raises(RemoteFileNotFound) as info:
        pull_file(hub, REPO, "medgemma-1.5-4b-it-Q9_X.gguf")

    assert str(info.value).startswith(
        f"no file medgemma-1.5-4b-it-Q9_X.gguf in repo {REPO} (revision main); "
        f"available GGUF files: {MODEL}, mmproj-F16.gguf."
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_hub_gives_the_offline_message(cache: Path) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    with httpx.Client(timeout=5) as client:
        hub = Hub(client, endpoint=endpoint, token=HubToken(TOKEN, "HF_TOKEN"), cache_dir=cache)
        with pytest.raises(HubUnreachable) as info:
            pull_file(hub, REPO, MODEL)

    message = str(info.value)
    assert message.startswith(f"cannot reach {endpoint}: ")
    assert f"Download the GGUF elsewhere and place it in {cache}" in message
    assert "set HF_ENDPOINT to a mirror" in message and TOKEN not in message


def test_token_from_the_environment_wins_over_the_login_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    assert find_token() is None

    (tmp_path / "token").write_text("hf_from_login_file\n")
    from_file = find_token()
    assert from_file is not None
    assert (from_file.value, from_file.source) == ("hf_from_login_file", str(tmp_path / "token"))

    explicit = tmp_path / "elsewhere"
    explicit.write_text("hf_from_token_path")
    monkeypatch.setenv("HF_TOKEN_PATH", str(explicit))
    assert getattr(find_token(), "value", None) == "hf_from_token_path"

    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy_variable")
    assert getattr(find_token(), "value", None) == "hf_legacy_variable"
    monkeypatch.setenv("HF_TOKEN", " hf_from_env ")
    token = find_token()
    assert token is not None and (token.value, token.source) == ("hf_from_env", "HF_TOKEN")
    assert "hf_from_env" not in repr(token) and "hf_from_env" not in str(token)


def test_the_login_file_token_reaches_the_gated_hub(
    standin: HubStandIn, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hf-home").mkdir()
    (tmp_path / "hf-home" / "token").write_text(TOKEN)
    monkeypatch.setenv("HF_ENDPOINT", standin.hub_url + "/")
    standin.files[MODEL] = payload(5000)
    standin.required_token = TOKEN

    with httpx.Client(timeout=10) as client:
        pulled = pull_file(Hub.from_environment(client, cache), REPO, MODEL)

    assert pulled.path.exists()
    assert standin.requests_to("hub", "HEAD")[0].headers["authorization"] == f"Bearer {TOKEN}"
