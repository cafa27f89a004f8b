"""A real git watcher on real repositories: `watch(path)` starts one with short poll intervals and
collects what it emits (events, errors, notes) the way the daemon would receive them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from companion.config import Config
from companion.events import Event
from companion.redact import Redactor
from companion.render import render
from tests.conftest import git, wait_for
from watchers import git_watcher
from watchers.base import WatchContext

POLL_S = 0.05
_REDACTOR: Redactor | None = None


def redactor() -> Redactor:
    global _REDACTOR
    if _REDACTOR is None:
        _REDACTOR = Redactor()
    return _REDACTOR


def quick_config(dirty_seconds: float = 0.0, poll: float = POLL_S) -> Config:
    config = Config()
    config.watch.git_poll_seconds = poll
    config.watch.dirty_tree_minutes = 0  # off unless a test asks for it
    config.watch.dirty_tree_seconds = dirty_seconds
    return config


class Recorder:
    """Runs the git watcher for a workspace and records everything it reports."""

    def __init__(self, workspace: Path, config: Config) -> None:
        self.events: list[Event] = []
        self.errors: list[tuple[str, str, str | None]] = []
        self.context = WatchContext(workspace=workspace, config=config, emit=self.events.append,
                                    redactor=redactor(), on_error=lambda *e: self.errors.append(e))
        self.watcher = git_watcher.create(self.context)

    @property
    def notes(self) -> list[str]:
        return self.context.notes

    def start(self) -> "Recorder":
        assert self.watcher is not None, f"no git watcher: {self.notes}"
        self.watcher.start()
        wait_for(lambda: self.watcher.state is not None or self.errors, timeout=10)  # baseline taken
        return self

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()

    def of_kind(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    def wait(self, kind: str, where: Callable[[dict[str, Any]], bool] = lambda d: True, timeout: float = 10) -> Event:
        """The first event of `kind` whose data satisfies `where` (data as plain dicts)."""
        def found() -> Event | None:
            for event in list(self.events):
                if event.kind == kind and where(event.to_dict()["data"]):
                    return event
            return None
        return wait_for(found, timeout=timeout)  # type: ignore[return-value]

    def settle(self, seconds: float = 0.4) -> None:
        """Give the watcher a few polls to report anything else."""
        import time
        time.sleep(seconds)

    def texts(self) -> list[str]:
        return [render(e) for e in self.events]

    def clear(self) -> None:
        self.events.clear()


@pytest.fixture
def watch() -> Iterator[Callable[..., Recorder]]:
    started: list[Recorder] = []

    def start(workspace: Path, dirty_seconds: float = 0.0, poll: float = POLL_S) -> Recorder:
        recorder = Recorder(workspace, quick_config(dirty_seconds, poll))
        started.append(recorder)
        return recorder.start() if recorder.watcher is not None else recorder

    yield start
    for recorder in started:
        recorder.stop()


def commit_file(repo: Path, name: str, text: str, message: str) -> str:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD").strip()


def git_fails(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a git command that is expected to stop (e.g. a merge with conflicts)."""
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    assert result.returncode != 0, f"git {' '.join(args)} unexpectedly succeeded"
    return result


@pytest.fixture
def diverged(repo: Path) -> Path:
    """`repo` with `main` and `feature/login` both changing api/auth.py and api/session.py."""
    commit_file(repo, "api/auth.py", "token = 1\n", "Add auth")
    (repo / "api/session.py").write_text("session = 1\n")
    git(repo, "add", "api/session.py")
    git(repo, "commit", "-qm", "Add session")
    git(repo, "checkout", "-qb", "feature/login")
    (repo / "api/auth.py").write_text("token = 2  # feature\n")
    (repo / "api/session.py").write_text("session = 2  # feature\n")
    git(repo, "commit", "-qam", "Refresh tokens on login")
    git(repo, "checkout", "-q", "main")
    (repo / "api/auth.py").write_text("token = 3  # main\n")
    (repo / "api/session.py").write_text("session = 3  # main\n")
    git(repo, "commit", "-qam", "Rotate tokens")
    return repo
