"""The bad-input corpus of issue 13, thrown at ONE real daemon process with the engine on: symlink
loops, a 1 GB sparse file, binary files, invalid UTF-8, git mid-merge, mid-rebase, detached and
with a corrupt index, an unborn repository, broken history files, spool garbage and 2,000 files at
once. After each case the daemon still answers, the case left the event (or the error) it should,
and the store is consistent; at the end an ordinary save is still recorded.

The watchers' own tests check each case in detail (tests/filewatch, tests/gitwatch, tests/shell);
this one checks that the daemon as users run it survives them all, one after the other."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from companion import paths
from companion.client import connect
from companion.events import thaw
from companion.shell import spool
from companion.store import Store
from tests.conftest import git, wait_for
from tests.shell.test_spool import command_line  # the hooks' record format, in one place

REPLY = {"purpose": "p", "thoughts": "t", "proactive_task": "Resolve the conflict in api/auth.py",
         "response": "Keep both changes.", "operation": "explain"}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Daemon:
    """The daemon process of one workspace, and what it stored."""

    def __init__(self, workspace: Path, process: subprocess.Popen[bytes]) -> None:
        self.workspace = workspace
        self.process = process

    def events(self, kind: str, where: Callable[[dict[str, Any]], bool] = lambda data: True) -> list[dict[str, Any]]:
        with Store() as store:
            found = [thaw(e.data) for e in store.events(workspace=str(self.workspace), kinds=[kind])]
        return [data for data in found if where(data)]

    def wait(self, kind: str, where: Callable[[dict[str, Any]], bool] = lambda data: True, timeout: float = 90) -> dict:
        return wait_for(lambda: self.events(kind, where), timeout=timeout)[-1]

    def healthy(self) -> dict[str, Any]:
        assert self.process.poll() is None, "the daemon died"
        with connect(self.workspace, start=False) as client:
            status = client.request("status")["status"]
        with Store() as store:
            assert store.integrity_ok()
        return status


@pytest.fixture
def engine_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([REPLY]))
    for name, value in {"ENGINE_ENABLED": "true", "AGENT_BACKEND": "scripted", "AGENT_SCRIPT": str(script),
                        "ENGINE_COOLDOWN_S": "0", "WATCH_DIRTY_TREE_MINUTES": "0"}.items():
        monkeypatch.setenv(f"COMPANION_{name}", value)


def _diverged(repo: Path) -> None:
    """main and feature/login both change api/auth.py."""
    (repo / "api").mkdir()
    (repo / "api" / "auth.py").write_text("token = 1\n")
    git(repo, "add", "api")
    git(repo, "commit", "-qm", "Add auth")
    git(repo, "checkout", "-qb", "feature/login")
    (repo / "api" / "auth.py").write_text("token = 2\n")
    git(repo, "commit", "-qam", "Login token")
    git(repo, "checkout", "-q", "main")
    (repo / "api" / "auth.py").write_text("token = 3\n")
    git(repo, "commit", "-qam", "Main token")


def test_the_daemon_survives_the_whole_corpus(repo: Path, tmp_path: Path, engine_env: None, daemon_process) -> None:
    _diverged(repo)
    home = Path(os.environ["HOME"])
    daemon = Daemon(repo, daemon_process(repo))
    daemon.healthy()
    rng = random.Random(13)

    # symbolic link loops, and a folder link to itself
    os.symlink(".", repo / "self")
    os.symlink("loop-b", repo / "loop-a")
    os.symlink("loop-a", repo / "loop-b")
    assert daemon.wait("file.created", lambda d: d.get("path") == "loop-b")["symlink_loop"] is True
    daemon.healthy()

    # a 1 GB sparse file is not read
    rss_before = _rss_mb(daemon.process.pid)
    with open(repo / "huge.bin", "wb") as handle:
        handle.truncate(1 << 30)
    huge = daemon.wait("file.created", lambda d: d.get("path") == "huge.bin")
    assert huge["content_skipped"] in ("too large", "binary") and huge["size"] == 1 << 30
    assert _rss_mb(daemon.process.pid) - rss_before < 200, "the daemon read the sparse file"
    daemon.healthy()

    # binary content and invalid UTF-8
    (repo / "blob.dat").write_bytes(bytes(rng.randrange(256) for _ in range(5000)))
    (repo / "latin1.py").write_bytes("s = 'café naïve'\n\xff\xfe\n".encode("latin-1"))
    assert daemon.wait("file.created", lambda d: d.get("path") == "blob.dat")["content_skipped"] == "binary"
    assert daemon.wait("file.created", lambda d: d.get("path") == "latin1.py").get("encoding_errors") is True
    daemon.healthy()

    # git: a merge stopped by conflicts, aborted; a rebase stopped by conflicts, aborted; a detached HEAD
    assert subprocess.run(["git", "merge", "feature/login"], cwd=repo, capture_output=True).returncode != 0
    assert daemon.wait("git.conflict", lambda d: d.get("operation") == "merge")["files"] == ["api/auth.py"]
    git(repo, "merge", "--abort")
    daemon.wait("git.operation", lambda d: d.get("operation") == "merge" and d.get("status") == "finished")
    git(repo, "checkout", "-q", "feature/login")
    daemon.wait("git.branch", lambda d: d.get("to") == "feature/login")
    assert subprocess.run(["git", "rebase", "main"], cwd=repo, capture_output=True).returncode != 0
    daemon.wait("git.conflict", lambda d: d.get("operation") == "rebase")
    git(repo, "rebase", "--abort")
    daemon.wait("git.operation", lambda d: d.get("operation") == "rebase" and d.get("outcome") == "aborted")
    git(repo, "checkout", "-q", "--detach", "main")
    daemon.wait("git.branch", lambda d: d.get("detached") is True)
    git(repo, "checkout", "-q", "main")
    daemon.healthy()

    # a corrupt index is reported, and the watcher goes on once it is repaired
    index = repo / ".git" / "index"
    saved_index = index.read_bytes()
    index.write_bytes(b"DIRC garbage" + bytes(rng.randrange(256) for _ in range(300)))
    daemon.wait("companion.error", lambda d: "index" in str(d.get("message", "")).lower())
    index.write_bytes(saved_index)
    (repo / "after.txt").write_text("fine\n")
    git(repo, "add", "after.txt")
    git(repo, "commit", "-qm", "Works again")
    daemon.wait("git.commit", lambda d: d.get("summary") == "Works again")
    daemon.healthy()

    # broken history files of all three shells
    (home / ".bash_history").write_bytes(b"#notatime\n\xff\xfe\x00ls\n#1700000000\n" + b"A" * 100_000 + b"\n")
    (home / ".zsh_history").write_bytes(b": 17000:0;\x83\x80\x83 broken meta\n: x:y;\n\x00\x00\n")
    fish = home / ".local" / "share" / "fish"
    fish.mkdir(parents=True, exist_ok=True)
    (fish / "fish_history").write_bytes(b"- cmd: [unterminated\n  when: soon\n\t\t- - -\n\xc3\x28\n")
    daemon.healthy()

    # garbage in the shell spool, then one good record still arrives
    live = paths.spool_dir() / spool.SPOOL_NAME
    with open(live, "ab") as handle:
        handle.write(bytes(rng.randrange(256) for _ in range(20_000)) + b"\n\t\t\t\n" + b"x" * 300_000 + b"\n")
    with open(live, "ab") as handle:
        handle.write(command_line(repo, "echo after-the-garbage").encode())
    daemon.wait("shell.command", lambda d: d.get("command") == "echo after-the-garbage")
    daemon.healthy()

    # 2,000 files at once: one event for the new folder (or one burst event), not 2,000
    bulk = repo / "generated"
    bulk.mkdir()
    for number in range(2000):
        (bulk / f"f{number}.txt").write_text(f"{number}\n")
    wait_for(lambda: daemon.events("file.bulk") or daemon.events("file.created", lambda d: d.get("path") == "generated"),
             timeout=60)
    created = daemon.events("file.created", lambda d: str(d.get("path", "")).startswith("generated"))
    assert len(created) < 50, "a burst should not become one event per file"
    daemon.healthy()

    # an unborn repository (git init, no commit) is a workspace too
    unborn = (tmp_path / "unborn").resolve()
    unborn.mkdir()
    git(unborn, "init", "-q")
    second = Daemon(unborn, daemon_process(unborn))
    (unborn / "first.py").write_text("print(1)\n")
    second.wait("file.created", lambda d: d.get("path") == "first.py")
    assert "git" in second.healthy()["watchers"]

    # and after all of it, an ordinary save is recorded as ever
    (repo / "api" / "auth.py").write_text("token = 5\n")
    daemon.wait("file.saved", lambda d: d.get("path") == "api/auth.py")
    status = daemon.healthy()
    assert status["engine"]["triggers"] >= 1, "the engine saw the conflicts"
    assert not [n for n in status.get("engine", {}).get("notes", []) if "Traceback" in n]
