"""``agent.model_store`` pulling a file from a loopback stand-in of the Hugging Face hub:
progress, verification, placement, and resuming an interrupted or broken transfer.

The stand-in (a hub and a cross-origin CDN on real sockets) is in
``tests/support/hub_standin.py``; refusals and tokens are in ``test_model_pull_hub_access.py``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agent.model_store import (
    ChecksumMismatch,
    DownloadInterrupted,
    Hub,
    pull_file,
)
from agent.models.spec import find_medgemma
from tests.support.hub_standin import (
    COMMIT,
    MODEL,
    REPO,
    TOKEN,
    HubStandIn,
    cache,
    hub,
    leftovers,
    payload,
    standin,
)

__all__ = ["cache", "hub", "standin"]  # fixtures used here by name


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
