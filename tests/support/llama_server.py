"""Build (once) and run llama.cpp's own ``llama-server`` for the model-server tests.

No prebuilt llama.cpp binary can be downloaded here, but PyPI's llama-cpp-python sdist
carries the llama.cpp sources (``vendor/llama.cpp``) of the version pip installed.  This
builds only the ``llama-server`` target from them (CPU, Release, static, ``-j2`` under
``nice``) and caches the binary outside the repository, keyed by that version, so a
second run (and CI, which runs on the same machine) reuses it.

    python tests/support/llama_server.py            # build or reuse; prints the binary's path
    python tests/support/llama_server.py --rebuild  # build again

``EHR_AGENT_LLAMA_SERVER`` names a binary to use instead (a user's own build);
``EHR_AGENT_LLAMA_SERVER_CACHE`` moves the cache (default
``~/.cache/ehr-agent/llama-server-<version>/``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib.metadata
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

PACKAGE = "llama-cpp-python"
BUILD_JOBS = 2
"""The machine has two cores; more jobs only thrash."""
START_SECONDS = 120
"""Loading the 270M GGUF takes about a second; the rest is slack for a loaded machine."""
# llama.cpp's options that would reach the network or need extra system libraries.
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",  # one self-contained binary to cache
    "-DGGML_NATIVE=ON",  # the cache lives on the machine that built it
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",  # would fetch the web UI from a model hub
    "-DLLAMA_BUILD_UI=OFF",  # would run npm
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
)


def installed_version() -> str:
    """The llama-cpp-python version pip installed: the sources built are that version's."""
    return importlib.metadata.version(PACKAGE)


def cache_dir(version: str) -> Path:
    """Where the binary of ``version`` is kept."""
    root = os.environ.get("EHR_AGENT_LLAMA_SERVER_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "ehr-agent"
    return base / f"llama-server-{version}"


def _run(command: list[str], cwd: Path, log: Path) -> None:
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(command)}\n".encode())
        out.flush()
        done = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-30:]
        raise RuntimeError(
            f"{command[0]} failed (exit {done.returncode}); log {log}:\n" + "\n".join(tail)
        )


def _sources(version: str, work: Path, log: Path) -> Path:
    """Download the sdist of ``version`` from PyPI and unpack its llama.cpp sources."""
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-binary",
            ":all:",
            "--no-deps",
            f"{PACKAGE}=={version}",
            "-d",
            str(work),
        ],
        work,
        log,
    )
    (sdist,) = work.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(work, filter="data")
    (source,) = work.glob("*/vendor/llama.cpp")
    return source


def build(version: str, target: Path) -> Path:
    """Build ``llama-server`` of ``version`` and put it at ``target``; returns ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    log = target.parent / "build.log"
    log.write_text("")
    with tempfile.TemporaryDirectory(prefix="llama-server-build-") as scratch:
        work = Path(scratch)
        source = _sources(version, work, log)
        build_dir = work / "build"
        nice = ["nice", "-n", "10"]
        _run([*nice, "cmake", "-S", str(source), "-B", str(build_dir), *CMAKE_OPTIONS], work, log)
        _run(
            [
                *nice,
                "cmake",
                "--build",
                str(build_dir),
                "--target",
                "llama-server",
                f"-j{BUILD_JOBS}",
            ],
            work,
            log,
        )
        built = build_dir / "bin" / "llama-server"
        partial = target.with_suffix(".partial")
        shutil.copy2(built, partial)
        partial.replace(target)  # atomic: a reader never sees half a binary
    return target


def ensure_llama_server(*, rebuild: bool = False) -> Path:
    """The ``llama-server`` binary: the user's, the cached one, or a fresh build."""
    override = os.environ.get("EHR_AGENT_LLAMA_SERVER")
    if override:
        return Path(override)
    version = installed_version()
    target = cache_dir(version) / "llama-server"
    target.parent.mkdir(parents=True, exist_ok=True)
    # One build at a time: two test sessions (or CI and a developer) must not race.
    with (target.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if rebuild or not target.exists():
            build(version, target)
    return target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_llama_server(
    binary: Path,
    gguf: Path,
    log: Path,
    *,
    alias: str,
    context: int = 2048,
    chat_template: str = "gemma",
    threads: int = 2,
) -> Iterator[str]:
    """Run ``llama-server`` on 127.0.0.1 (a free port); yields its ``/v1`` base URL.

    ``chat_template`` names one of llama.cpp's built-in templates: the 270M GGUF carries
    none, and without one the server would apply ChatML to a Gemma model.
    """
    port = _free_port()
    command = [
        str(binary),
        "--model",
        str(gguf),
        "--alias",
        alias,
        "--ctx-size",
        str(context),
        "--chat-template",
        chat_template,
        "--threads",
        str(threads),
        "--parallel",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_SECONDS
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                        break
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llama-server did not start; see {log}")
                time.sleep(0.3)
            yield f"{base}/v1"
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="build even when cached")
    args = parser.parse_args()
    started = time.monotonic()
    binary = ensure_llama_server(rebuild=args.rebuild)
    print(f"{binary}  ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
