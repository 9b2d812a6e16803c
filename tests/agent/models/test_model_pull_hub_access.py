"""``agent.model_store`` when the hub says no, and where its token comes from: a gated
repository, a missing file, an unreachable hub, and the token sources in order.

The stand-in is in ``tests/support/hub_standin.py``; pulls that succeed are in
``test_model_pull_hub.py``.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import httpx
import pytest

from agent.model_store import (
    GatedRepository,
    Hub,
    HubToken,
    HubUnreachable,
    RemoteFileNotFound,
    find_token,
    pull_file,
)
from tests.support.hub_standin import (
    MODEL,
    REPO,
    TOKEN,
    HubStandIn,
    cache,
    hub,
    leftovers,
    make_hub,
    payload,
    standin,
)

__all__ = ["cache", "hub", "standin"]  # fixtures used here by name


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
