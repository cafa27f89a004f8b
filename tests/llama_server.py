"""The real llama.cpp server (`python -m llama_cpp.server`, llama-cpp-python's `server` extra) on a
loopback port with the packaged SmolLM2 GGUF, for the OpenAI-compatible backend and gate tests.

`require_llama_cpp()` skips a test where llama-cpp-python is not installed, except in CI
(`CI=true`), where a missing build is a failure: CI builds it (`make llama`), so nothing that
needs it may be skipped there silently.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.programs import in_ci

MODEL_ALIAS = "smollm2"
START_TIMEOUT_S = 90.0


def require_llama_cpp(server: bool = False) -> None:
    from companion.agent.backends.llama_cpp import available

    missing = not available()
    if not missing and server:
        try:
            import llama_cpp.server  # noqa: F401
        except ImportError:
            missing = True
    if missing:
        what = "llama-cpp-python[server]" if server else "llama-cpp-python"
        if in_ci():
            pytest.fail(f"{what} is not installed, but CI builds it (make llama): the build failed")
        pytest.skip(f"{what} is optional and not installed here (make llama)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(api_key: str = "", threads: int = 1) -> Iterator[str]:
    """Yields the server's base URL (with /v1); stops the server afterwards. `threads` for prompt and
    generation alike: one by default, since llama.cpp's threads spin and the tests share 2 busy cores."""
    from companion.models import smollm2_gguf

    require_llama_cpp(server=True)
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()), "--model_alias", MODEL_ALIAS,
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads),
               "--n_threads_batch", str(threads)]
    if api_key:
        command += ["--api_key", api_key]
    log = Path(os.environ.get("COMPANION_HOME", "/tmp")) / f"llama-server-{port}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise AssertionError(f"llama.cpp server exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2.0,
                             headers={"Authorization": f"Bearer {api_key}"} if api_key else {}).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"llama.cpp server did not start within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
