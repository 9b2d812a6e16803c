"""The few Hugging Face hub HTTP calls a pull needs, with errors the user can act on.

Why not ``huggingface_hub``: we need three requests (a HEAD on the file's
``resolve`` URL, a file listing, a streamed GET), a progress callback rather
than tqdm, and our own messages for gated repositories and offline use. The
library would add several dependencies, its own cache layout and, for
Xet-backed repositories, a second transfer protocol that a loopback stand-in
in the tests cannot serve. Plain httpx keeps every byte testable.

Token safety: the token goes only into the ``Authorization`` header of
requests to the hub's own origin. httpx drops that header when a redirect
leaves the origin (the hub redirects LFS files to pre-signed CDN URLs), and
nothing here puts the token in a URL, a log line or an exception message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from agent.model_store.auth import HubToken, find_token, hub_endpoint
from agent.model_store.errors import (
    GatedRepository,
    HubError,
    HubUnreachable,
    ModelStoreError,
    RemoteFileNotFound,
)

__all__ = ["Hub", "RemoteFile", "RepoEntry", "origin_of"]

HUB_WEBSITE = "https://huggingface.co"
"""Where model terms are accepted, whatever ``HF_ENDPOINT`` points at."""
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MAX_REDIRECTS = 5


@dataclass(frozen=True)
class RemoteFile:
    """One file on the hub and what it should hash to."""

    repo: str
    filename: str
    revision: str
    url: str
    """The ``resolve`` URL, pinned to the commit the hub reported when it did."""
    sha256: str | None
    size: int | None


@dataclass(frozen=True)
class RepoEntry:
    """One file of a repository listing."""

    path: str
    size: int | None
    sha256: str | None


def origin_of(url: httpx.URL | str) -> str:
    """``scheme://host[:port]`` only: safe to show (no path, no pre-signed query)."""
    parsed = httpx.URL(str(url))
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


class Hub:
    """A hub endpoint, the user's token (if any) and one HTTP client.

    ``cache_dir`` only feeds the offline message ("place the file in ...").
    """

    def __init__(
        self,
        client: httpx.Client,
        *,
        endpoint: str,
        token: HubToken | None,
        cache_dir: Path,
    ) -> None:
        self.client = client
        self.endpoint = endpoint.rstrip("/")
        self.token = token
        self.cache_dir = cache_dir

    @classmethod
    def from_environment(cls, client: httpx.Client, cache_dir: Path) -> Hub:
        """``HF_ENDPOINT`` and the token from ``HF_TOKEN`` or the hub's login file."""
        return cls(client, endpoint=hub_endpoint(), token=find_token(), cache_dir=cache_dir)

    def headers(self) -> dict[str, str]:
        """Headers for requests to the hub's own origin (redirects drop the token)."""
        return self.token.authorization() if self.token else {}

    def file_url(self, repo: str, revision: str, filename: str) -> str:
        """``{endpoint}/{repo}/resolve/{revision}/{filename}``, each part URL-quoted."""
        return (
            f"{self.endpoint}/{quote(repo, safe='/')}/resolve/"
            f"{quote(revision, safe='')}/{quote(filename, safe='/')}"
        )

    def resolve(self, repo: str, filename: str, revision: str = "main") -> RemoteFile:
        """The file's SHA-256 and size, from the HEAD answer or else the listing.

        The hub answers a HEAD on an LFS file with a redirect to its CDN that
        carries ``X-Linked-Etag`` (the SHA-256) and ``X-Linked-Size``; the CDN
        is not asked (its pre-signed URLs are for GET).
        """
        url = self.file_url(repo, revision, filename)
        response = self._head_on_origin(url)
        if response.status_code >= 400:
            self.raise_for_status(response, repo, filename, revision)
        headers = response.headers
        linked = "x-linked-etag" in headers
        sha256 = _etag_sha256(headers.get("x-linked-etag") or headers.get("etag"))
        size = _int_or_none(headers.get("x-linked-size") if linked else None)
        if size is None and response.status_code == 200:
            size = _int_or_none(headers.get("content-length"))
        commit = headers.get("x-repo-commit")
        if commit and re.fullmatch(r"[0-9a-f]{40}", commit):
            url = self.file_url(repo, commit, filename)
        if sha256 is None:
            entry = next((e for e in self.list_files(repo, revision) if e.path == filename), None)
            if entry is not None:
                sha256 = entry.sha256
                size = size if size is not None else entry.size
        return RemoteFile(repo, filename, revision, url, sha256=sha256, size=size)

    def list_files(self, repo: str, revision: str = "main") -> list[RepoEntry]:
        """Every file in the repository (``/api/models/{repo}/tree/{revision}``, recursive)."""
        url: str | None = (
            f"{self.endpoint}/api/models/{quote(repo, safe='/')}/tree/{quote(revision, safe='')}"
        )
        params: dict[str, str] | None = {"recursive": "true"}
        entries: list[RepoEntry] = []
        while url:
            response = self._send("GET", url, params=params)
            if response.status_code >= 400:
                self.raise_for_status(response, repo, None, revision)
            try:
                items = response.json()
            except ValueError as error:
                raise HubError(
                    f"{origin_of(url)} did not answer the file listing with JSON; "
                    "is HF_ENDPOINT a Hugging Face hub or mirror?"
                ) from error
            entries.extend(_entry(item) for item in items if isinstance(item, dict))
            next_link = response.links.get("next", {}).get("url")
            url, params = (next_link, None) if next_link else (None, None)
        return [entry for entry in entries if entry.path]

    def raise_for_status(
        self, response: httpx.Response, repo: str, filename: str | None, revision: str
    ) -> None:
        """Turn an error answer into the matching :class:`ModelStoreError`."""
        status = response.status_code
        from_hub = origin_of(response.url) == origin_of(self.endpoint)
        if status in (401, 403) and from_hub:
            raise GatedRepository(self._gated_message(repo, status))
        if status == 404 and from_hub and filename is not None:
            raise RemoteFileNotFound(self._not_found_message(repo, filename, revision))
        if status == 404 and from_hub:
            raise RemoteFileNotFound(
                f"the hub has no repository {repo} (or no revision {revision}); check --repo."
            )
        where = "the hub" if from_hub else f"the download server {origin_of(response.url)}"
        hint = "" if from_hub else " (its signed link may have expired)"
        raise HubError(
            f"{where} answered HTTP {status} for {repo}"
            f"{'/' + filename if filename else ''}{hint}; run the command again later."
        )

    def unreachable(self, error: httpx.TransportError, *, note: str = "") -> HubUnreachable:
        """The offline message: what failed and how to get the file without us."""
        target = origin_of(error.request.url) if _has_request(error) else self.endpoint
        reason = str(error) or type(error).__name__
        return HubUnreachable(
            f"cannot reach {target}: {reason}. Download the GGUF elsewhere and place it "
            f"in {self.cache_dir}, or set HF_ENDPOINT to a mirror.{note}"
        )

    def _send(
        self, method: str, url: str, *, params: dict[str, str] | None = None
    ) -> httpx.Response:
        try:
            return self.client.request(
                method, url, params=params, headers=self.headers(), follow_redirects=False
            )
        except httpx.TransportError as error:
            raise self.unreachable(error) from error

    def _head_on_origin(self, url: str) -> httpx.Response:
        """HEAD, following only same-origin redirects (renamed repos), never to the CDN."""
        response = self._send("HEAD", url)
        for _ in range(_MAX_REDIRECTS):
            if not response.is_redirect or "x-linked-etag" in response.headers:
                return response
            target = response.url.join(response.headers["location"])
            if origin_of(target) != origin_of(self.endpoint):
                return response
            response = self._send("HEAD", str(target))
        return response

    def _gated_message(self, repo: str, status: int) -> str:
        used = f"with the token from {self.token.source}" if self.token else "without a token"
        return (
            f"the hub refused access to {repo} (HTTP {status}, {used}). The MedGemma "
            f"repositories are gated: visit {HUB_WEBSITE}/{repo} while logged in and accept "
            "the model's terms, then set HF_TOKEN to an access token "
            f"({HUB_WEBSITE}/settings/tokens) or run `huggingface-cli login`. "
            "A 401 can also mean the repository name is wrong: check --repo."
        )

    def _not_found_message(self, repo: str, filename: str, revision: str) -> str:
        message = f"no file {filename} in repo {repo} (revision {revision})"
        try:
            ggufs = sorted(
                e.path for e in self.list_files(repo, revision) if e.path.endswith(".gguf")
            )
        except ModelStoreError:
            return f"{message}; check --file/--quant and --repo."
        listed = ", ".join(ggufs) if ggufs else "none"
        return f"{message}; available GGUF files: {listed}. Pick one with --file or --quant."


def _has_request(error: httpx.TransportError) -> bool:
    try:
        error.request  # noqa: B018  (raises RuntimeError when httpx set none)
    except RuntimeError:
        return False
    return True


def _etag_sha256(etag: str | None) -> str | None:
    if not etag:
        return None
    value = etag.strip().removeprefix("W/").strip('"').lower()
    return value if _SHA256.match(value) else None


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _entry(item: dict[str, object]) -> RepoEntry:
    lfs = item.get("lfs")
    sha256: str | None = None
    if isinstance(lfs, dict):
        oid = lfs.get("oid") or lfs.get("sha256")
        sha256 = oid.lower() if isinstance(oid, str) and _SHA256.match(oid.lower()) else None
    size = item.get("size")
    path = item.get("path") if item.get("type", "file") == "file" else ""
    return RepoEntry(
        path=path if isinstance(path, str) else "",
        size=size if isinstance(size, int) else None,
        sha256=sha256,
    )
