"""End to end through a real daemon: real saves seen by its file watcher, real pytest runs, and
the stored failure events carrying the suspect hunk of the line that changed since the last green."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from companion.config import Config
from companion.events import thaw
from companion.ipc import Client
from companion.render import render
from tests.conftest import git, wait_for

PARSER = "".join(f"VALUE_{n} = {n}\n" for n in range(1, 61)) + 'ESCAPES = {"\\\\n": "\\u000a"}\n' + "".join(
    f"OTHER_{n} = {n}\n" for n in range(62, 90))
TEST = ("from pkg._parser import ESCAPES\n\n\n"
        "def test_valid():\n    assert ESCAPES['\\\\n'] == '\\n'\n\n\n"
        "def test_other():\n    assert True\n")


def _project(root: Path) -> None:
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "__init__.py").write_text("")
    (root / "src" / "pkg" / "_parser.py").write_text(PARSER)
    (root / "tests").mkdir()
    (root / "tests" / "test_parser.py").write_text(TEST)
    (root / "pytest.ini").write_text("[pytest]\npythonpath = src\n")


def _pytest(root: Path) -> tuple[int, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COMPANION_"))}
    began = time.time()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests"], cwd=root, env=env,
                            capture_output=True, text=True, timeout=120)
    return result.returncode, time.time() - began


def _emit_command(daemon, command: str, exit_code: int, duration: float) -> None:
    """What the shell hook sends for a finished command (same fields, same socket operation)."""
    with Client(daemon.socket_path) as client:
        client.request("emit", wait=True, event={"source": "shell", "kind": "shell.command", "data": {
            "command": command, "exit_code": exit_code, "duration_s": round(duration, 2), "dir": ".",
            "cwd": str(daemon.workspace), "shell": "bash"}})


def _save(daemon, path: Path, text: str) -> None:
    """A real save (editor-style: write a temporary file, rename it over), seen by the daemon's watcher."""
    before = len(daemon.store.events(workspace=str(daemon.workspace), kinds=["file.saved"]))
    temp = path.with_name(path.name + ".tmp-save")
    temp.write_text(text)
    os.replace(temp, path)
    wait_for(lambda: len(daemon.store.events(workspace=str(daemon.workspace), kinds=["file.saved"])) > before)


def _git_state(root: Path) -> tuple[str, str, str]:
    index = hashlib.sha256((root / ".git" / "index").read_bytes()).hexdigest()
    return index, git(root, "for-each-ref"), git(root, "stash", "list")

def _committed_and_watched(root: Path, daemon_factory, with_git: bool):
    """The project committed (with git) and a daemon watching it: (daemon, git state before or None)."""
    (root / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n")
    before = None
    if with_git:
        git(root, "init", "-q")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "project")
        before = _git_state(root)
    config = Config()
    config.watch.debounce_ms = 60
    daemon = daemon_factory(root, config=config, services=False)
    wait_for(lambda: next(w for w in daemon.watchers if w.name == "file").ready.is_set())
    return daemon, before


def _latest(daemon, kind: str):
    events = daemon.store.events(workspace=str(daemon.workspace), kinds=[kind])
    return events[-1] if events else None


@pytest.mark.parametrize("with_git", [True, False], ids=["git", "no-git"])
def test_failure_names_the_line_changed_since_the_last_passing_run(tmp_path: Path, daemon_factory, with_git: bool) -> None:
    root = (tmp_path / "project").resolve()
    root.mkdir()
    _project(root)
    daemon, before = _committed_and_watched(root, daemon_factory, with_git)

    code, took = _pytest(root)
    assert code == 0
    _emit_command(daemon, "python -m pytest -q tests", code, took)

    parser = root / "src" / "pkg" / "_parser.py"
    _save(daemon, parser, PARSER.replace('"\\u000a"', '"\\u0009"'))
    code, took = _pytest(root)
    assert code == 1
    _emit_command(daemon, "python -m pytest -q tests", code, took)

    failed = _latest(daemon, "shell.command")
    evidence = thaw(failed.data)["evidence"]
    assert evidence["green"]["kind"] == "command" and evidence["green"]["key"] == "python -m pytest -q tests"
    [suspect] = evidence["suspects"]
    assert suspect["path"] == "src/pkg/_parser.py" and suspect["line"] == 61
    assert suspect["removed"] == ['ESCAPES = {"\\\\n": "\\u000a"}'] and suspect["added"] == ['ESCAPES = {"\\\\n": "\\u0009"}']
    assert "@@ -58,7 +58,7 @@" in suspect["hunk"]
    sentence = render(failed)
    assert "Since it last succeeded, `src/pkg/_parser.py` line 61 changed: " in sentence
    assert '`ESCAPES = {"\\\\n": "\\u000a"}` → `ESCAPES = {"\\\\n": "\\u0009"}`' in sentence

    # the test results watcher reads pytest's cache: the tests.failed event gets the same suspect
    wait_for(lambda: _latest(daemon, "tests.failed"), timeout=15)
    daemon.pipeline.flush()
    tests_failed = thaw(_latest(daemon, "tests.failed").data)
    assert tests_failed["tests"] == ["tests/test_parser.py::test_valid"]
    assert [s["line"] for s in tests_failed["evidence"]["suspects"]] == [61]
    assert tests_failed["evidence"]["green"]["key"] == "tests:pytest"

    # fixed: the test id is green again; a new break is compared with that pass, not the first one
    _save(daemon, parser, PARSER)
    code, _took = _pytest(root)
    assert code == 0
    wait_for(lambda: _latest(daemon, "tests.fixed"), timeout=15)
    daemon.pipeline.flush()
    _save(daemon, parser, PARSER.replace("VALUE_3 = 3", "VALUE_3 = 33").replace('"\\u000a"', '"\\u000d"'))
    code, _took = _pytest(root)
    wait_for(lambda: len(daemon.store.events(workspace=str(daemon.workspace), kinds=["tests.failed"])) == 2, timeout=15)
    daemon.pipeline.flush()
    second = thaw(_latest(daemon, "tests.failed").data)["evidence"]
    assert second["green"] == {"ts": second["green"]["ts"], "key": "tests/test_parser.py::test_valid", "kind": "tests"}
    assert sorted(s["line"] for s in second["suspects"]) == [3, 61]

    if with_git:
        assert _git_state(root) == before  # index, refs and stash untouched


def test_odd_files_and_secrets_through_a_real_daemon(workspace: Path, daemon_factory) -> None:
    """A folder that is no repository, with binary, huge, invalid UTF-8 and secret files: the daemon
    keeps running, the text change is a suspect, the others are named, no secret is at rest raw."""
    from companion.evidence.snapshots import folder_for

    secret = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    (workspace / "app.sh").write_text("#!/bin/sh\necho one\nexit 0\n")
    (workspace / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0" + os.urandom(4000))
    (workspace / "dump.sql").write_text("x" * 2_000_000)
    (workspace / "notes.txt").write_bytes(b"caf\xe9\nsecond line\n")
    (workspace / ".env").write_text(f"GITHUB_TOKEN={secret}\n")
    (workspace / "config.py").write_text(f"TOKEN = '{secret}'\n")
    config = Config()
    config.watch.debounce_ms = 60
    daemon = daemon_factory(workspace, config=config, services=False)
    _emit_command(daemon, "./app.sh", 0, 0.1)
    _save(daemon, workspace / "app.sh", "#!/bin/sh\necho two\nexit 1\n")
    (workspace / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0" + os.urandom(4000))
    (workspace / "dump.sql").write_text("y" * 2_000_001)
    (workspace / "notes.txt").write_bytes(b"caf\xe9\nline 2\n")
    (workspace / ".env").write_text(f"GITHUB_TOKEN={secret}x\n")
    (workspace / "config.py").write_text(f"TOKEN = '{secret}'\nDEBUG = 1\n")
    _emit_command(daemon, "./app.sh", 1, 0.1)
    evidence = thaw(_latest(daemon, "shell.command").data)["evidence"]
    assert sorted((s["path"], s["line"]) for s in evidence["suspects"]) == [("app.sh", 2), ("config.py", 2), ("notes.txt", 2)]
    assert {f["path"]: f["note"] for f in evidence["changed_files"]} == {
        "logo.png": "binary", "dump.sql": "too large", ".env": "secret"}
    assert secret not in _latest(daemon, "shell.command").data_json()
    daemon.stop()
    for folder, _dirs, files in os.walk(folder_for(workspace)):
        for name in files:
            raw = (Path(folder) / name).read_bytes()
            try:
                raw = zlib.decompress(raw)
            except zlib.error:
                pass
            assert secret.encode() not in raw


def test_the_daemon_primes_the_copies_in_the_background(workspace: Path, daemon_factory, monkeypatch) -> None:
    """Before any command, the daemon reads the tree once (here without the usual 10 s delay) and
    keeps the copies by stat in its private state, so the first green run is a stat walk."""
    import json

    from companion.evidence import enrich
    from companion.evidence.snapshots import folder_for

    monkeypatch.setattr(enrich, "PRIME_DELAY_S", 0.0)
    for n in range(20):
        (workspace / f"m{n}.py").write_text(f"VALUE = {n}\n")
    daemon_factory(workspace, services=False)
    state = folder_for(workspace) / "state.json"
    wait_for(lambda: state.exists() and len(json.loads(state.read_text())["files"]) == 20, timeout=30)
    assert all(not ref.startswith("!") for _size, _mtime, ref in json.loads(state.read_text())["files"].values())


STRINGS = ('"""String helpers."""\n\n\n'
           "def slugify(text):\n    return '-'.join(text.lower().split())\n\n\n"
           "def shout(text):\n    return text.upper() + '!'\n")
UTIL = "# util: small helpers\n\n\ndef double(n):\n    return n * 2\n"
STRINGS_TEST = ("from pkg.strings import shout, slugify\nfrom pkg.util import double\n\n\n"
                "def test_slugify():\n    assert slugify('Hello World') == 'hello-world'\n\n\n"
                "def test_shout():\n    assert shout('hi') == 'HI!'\n\n\n"
                "def test_double():\n    assert double(2) == 4\n")


def _spool_command(root: Path, command: str, exit_code: int, start: float, end: float, n: int) -> None:
    """The bash hook's record of a finished command (EPOCHREALTIME start and end), appended to the spool."""
    from companion.shell import spool

    line = "\t".join(["c2", "bash", "4242-late", f"{start:.6f}", f"{end:.6f}", "", str(exit_code), str(root),
                      f"4242-late-{n}", "", command])
    with open(spool.spool_dir() / spool.SPOOL_NAME, "ab") as handle:
        handle.write(line.encode() + b"\n")


@pytest.mark.parametrize("with_git", [True, False], ids=["git", "no-git"])
def test_a_green_read_late_never_takes_a_file_saved_after_the_run(tmp_path: Path, daemon_factory, monkeypatch,
                                                                  with_git: bool) -> None:
    """The green run's record reaches the pipeline after the user saved the regression (A), before
    a comment edit (B): the first green of a fresh daemon, no copy of A kept yet. A's change must
    be a suspect (from the committed copy), never taken for the content of the run (it was: B was
    the only suspect, and the regression rule offered to revert the comment)."""
    from companion.evidence import enrich

    monkeypatch.setattr(enrich, "PRIME_DELAY_S", 3600.0)  # the daemon has not read the tree yet
    root = (tmp_path / "project").resolve()
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "__init__.py").write_text("")
    (root / "src" / "pkg" / "strings.py").write_text(STRINGS)
    (root / "src" / "pkg" / "util.py").write_text(UTIL)
    (root / "tests").mkdir()
    (root / "tests" / "test_strings.py").write_text(STRINGS_TEST)
    (root / "pytest.ini").write_text("[pytest]\npythonpath = src\n")
    daemon, before = _committed_and_watched(root, daemon_factory, with_git)
    command = "python -m pytest -q tests"

    start = time.time()
    code, _took = _pytest(root)
    end = time.time()
    assert code == 0
    while time.time() < end + 0.5:  # a fast user: the regression saved half a second after the run
        time.sleep(0.05)
    strings, util = root / "src" / "pkg" / "strings.py", root / "src" / "pkg" / "util.py"
    _save(daemon, strings, STRINGS.replace("+ '!'", "+ '?'"))
    _spool_command(root, command, 0, start, end, 1)  # read only now: the poll came late
    wait_for(lambda: _latest(daemon, "shell.command"), timeout=15)
    _save(daemon, util, UTIL.replace("# util: small helpers", "# util: small helpers (tidied)"))

    start = time.time()
    code, _took = _pytest(root)
    end = time.time()
    assert code == 1
    _spool_command(root, command, 1, start, end, 2)
    wait_for(lambda: len(daemon.store.events(workspace=str(daemon.workspace), kinds=["shell.command"])) == 2,
             timeout=15)
    evidence = thaw(_latest(daemon, "shell.command").data)["evidence"]
    assert evidence["green"]["key"] == command
    if with_git:  # the committed copy is the content of the run: both changes are suspects, with hunks
        assert sorted((s["path"], s["line"]) for s in evidence["suspects"]) == [
            ("src/pkg/strings.py", 9), ("src/pkg/util.py", 1)]
        [regression] = [s for s in evidence["suspects"] if s["path"] == "src/pkg/strings.py"]
        assert regression["removed"] == ["    return text.upper() + '!'"] and regression["since"] == "commit"
        assert _git_state(root) == before  # index, refs and stash untouched
    else:  # no copy of A older than the run anywhere: named as changed, never taken as green
        assert [(s["path"], s["line"]) for s in evidence["suspects"]] == [("src/pkg/util.py", 1)]
        assert {f["path"]: f["note"] for f in evidence["changed_files"]} == {"src/pkg/strings.py": "no earlier copy"}
