"""Shared fixtures: every test gets its own COMPANION_HOME (so nothing touches the user's data),
real temporary git repositories, and a session-wide model cache so the default model is
converted from its GGUF once per test run, not once per test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests import programs

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
MODEL_CACHE = Path(__file__).resolve().parent.parent / ".pytest-models"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires_program(name): the test drives this installed program "
                            "(skipped without it, failed without it under CI=true)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("requires_program"):
        for program in marker.args:
            programs.require(program)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    line = programs.summary_line()
    if line:
        terminalreporter.write_line(line, yellow=True, bold=True)


@pytest.fixture(autouse=True)
def companion_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("COMPANION_HOME", str(home))
    monkeypatch.setenv("COMPANION_MODELS_DIR", str(MODEL_CACHE))
    monkeypatch.setenv("HOME", str(home / "user"))
    (home / "user").mkdir()
    for name in [n for n in os.environ if n.startswith("COMPANION_") and n not in ("COMPANION_HOME", "COMPANION_MODELS_DIR")]:
        monkeypatch.delenv(name)
    # Daemons in tests run without the engine (no model loads, no proposals) unless a test turns
    # it on with monkeypatch.setenv("COMPANION_ENGINE_ENABLED", "true"), as tests/engine does.
    monkeypatch.setenv("COMPANION_ENGINE_ENABLED", "false")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "user" / ".gitconfig"))
    (home / "user" / ".gitconfig").write_text("[user]\n\tname = Test User\n\temail = test@example.com\n"
                                             "[init]\n\tdefaultBranch = main\n")
    return home


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty folder that is not a git repository."""
    root = tmp_path / "ws"
    root.mkdir()
    return root.resolve()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository with one commit."""
    root = (tmp_path / "repo").resolve()
    root.mkdir()
    git(root, "init", "-q")
    (root / "README.md").write_text("# demo\n")
    git(root, "add", "README.md")
    git(root, "commit", "-qm", "Initial commit")
    return root


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.05) -> object:
    """Poll until predicate() is truthy; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def run_cli(*args: str, cwd: Path | None = None, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `companion` command in a subprocess."""
    return subprocess.run([sys.executable, "-m", "companion", *args], cwd=cwd, capture_output=True, text=True,
                          input=input, timeout=timeout, env=os.environ.copy())


@pytest.fixture
def daemon_factory(companion_home: Path) -> Iterator[Callable[..., object]]:
    """Start in-process daemons on workspaces; all are stopped at the end of the test."""
    from companion.daemon import Daemon

    started: list[Daemon] = []

    def start(root: Path, **kwargs: object) -> Daemon:
        daemon = Daemon(root, **kwargs)  # type: ignore[arg-type]
        daemon.start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop("test finished")


@pytest.fixture
def needs_llama_cpp() -> None:
    """Skip without llama-cpp-python, except in CI, which builds it: there a missing build fails."""
    from tests.llama_server import require_llama_cpp

    require_llama_cpp()
