"""Another local user reads nothing of companion's: not the database, its WAL, the logs, the spool
or the socket (issue 13, item 3), whichever route ran the daemon (`companion run`, or `companion
watch` with no daemon to follow). The other user is `nobody`, through `setpriv` (these tests run
as root, which can become anyone: skipped for anyone else, failed under CI=true); the home sits in
a world-traversable folder so that only companion's own modes stand in the way, and a control
file shows the other user could read."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from companion import paths
from companion.cli.shell_init import hook_script
from companion.client import connect
from companion.store import Store
from tests import programs
from tests.conftest import wait_for
from tests.shell.pty_shell import PtyShell

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SECRET_NOTE = "private-note-7f3a91"


# setpriv (util-linux) and sqlite3 are programs CI installs
pytestmark = pytest.mark.requires_program("setpriv", "sqlite3")


@pytest.fixture(autouse=True)
def as_root() -> None:
    programs.require_root("acting as a second user needs root")


def as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NOBODY, *argv], capture_output=True, text=True, errors="replace", timeout=60)


def nobody_reads(path: Path) -> bool:
    return as_nobody("cat", str(path)).returncode == 0


def nobody_connects(socket_path: Path) -> bool:
    code = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
            "s.sendall(b'{\"id\":1,\"op\":\"events\"}\\n'); print(s.recv(100))")
    return as_nobody(sys.executable, "-c", code, str(socket_path)).returncode == 0


@pytest.fixture
def open_base(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 0755 folder in /tmp holding COMPANION_HOME (not yet created) and the workspace."""
    base = Path(tempfile.mkdtemp(prefix="companion-private-"))
    os.chmod(base, 0o755)
    monkeypatch.setenv("COMPANION_HOME", str(base / "home"))
    (base / "ws").mkdir()
    os.chmod(base / "ws", 0o755)
    control = base / "control.txt"
    control.write_text("readable\n")
    os.chmod(control, 0o644)
    assert nobody_reads(control), "the second user cannot read even a 0644 file: the test would prove nothing"
    yield base
    shutil.rmtree(base, ignore_errors=True)


def _private_tree(home: Path) -> list[str]:
    """Everything under home that a group or other user has any permission on."""
    opened = []
    for folder, dirs, files in os.walk(home):
        for name in [*dirs, *files, ""]:
            path = Path(folder) / name
            mode = os.lstat(path).st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                opened.append(f"{path.relative_to(home)} {stat.filemode(mode)}")
    return opened


def _umask(pid: int) -> int:
    """A running process's umask, as /proc shows it."""
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Umask:"))
    return int(line.split()[1], 8)


def _record_a_shell_command(workspace: Path) -> None:
    """A real interactive bash with the hook runs a command, so the spool has a file."""
    shell = PtyShell("bash", "HISTFILE=~/.bash_history\n" + hook_script("bash"), Path(os.environ["HOME"]), workspace)
    try:
        shell.run(f"echo {SECRET_NOTE}-shell")
    finally:
        shell.close()


@pytest.mark.parametrize("route", ["run", "watch"])
def test_a_fresh_install_is_private_to_its_user(open_base: Path, daemon_process, route: str) -> None:
    home, workspace = open_base / "home", open_base / "ws"
    old_umask = os.umask(0o022)  # a usual user's umask: what companion creates must not depend on it
    try:
        process = daemon_process(workspace, command=route)
        with connect(workspace, start=False) as client:
            client.request("emit", events=[{"source": "editor", "kind": "editor.opened",
                                            "data": {"path": f"{SECRET_NOTE}.py"}}])
        _record_a_shell_command(workspace)
        wait_for(lambda: Store().events(workspace=str(workspace), kinds=["shell.command"]), timeout=20)
    finally:
        os.umask(old_umask)
    assert _umask(process.pid) == 0o077, "whatever the daemon creates later must be private too"
    database = paths.database_file()
    private = [database, Path(f"{database}-wal"), Path(f"{database}-shm"), *paths.logs_dir().iterdir(),
               paths.lock_file(workspace)]
    spool = [p for p in paths.spool_dir().iterdir() if p.is_file()]
    assert Path(f"{database}-wal").exists() and spool, "the daemon should have a WAL and the hook a spool file"
    assert SECRET_NOTE.encode() in database.read_bytes() + Path(f"{database}-wal").read_bytes()

    # folders 0700, and the files companion creates 0600, whatever the umask was
    # every spool file (bash's scratch file and pytest's reports too) is 0600
    opened = _private_tree(home)
    assert not opened, f"readable by others: {opened}"
    assert not stat.S_IMODE(paths.spool_dir().stat().st_mode) & 0o077
    # the other user reads none of it, nor the database through sqlite3, nor connects to the socket
    for path in [*private, *spool]:
        assert not nobody_reads(path), f"nobody read {path}"
    assert as_nobody("sqlite3", str(database), "select count(*) from events").returncode != 0
    assert not nobody_connects(paths.socket_file(workspace))
    assert process.poll() is None

    # even with every folder opened for traversal, the files themselves stay closed
    for folder in [home, *(p for p in home.rglob("*") if p.is_dir())]:
        os.chmod(folder, 0o711)
    for path in private:
        assert not nobody_reads(path), f"nobody read {path} through an opened folder"
    assert not nobody_connects(paths.socket_file(workspace))


def _old_install(home: Path, workspace: Path) -> None:
    """What an install from before this fix left: 0755 folders, 0644 database and logs."""
    old_umask = os.umask(0o022)
    try:
        for folder in ("data/logs", "data/spool", "run", "cache"):
            (home / folder).mkdir(parents=True, exist_ok=True)
            os.chmod(home / folder, 0o755)
        os.chmod(home, 0o755)
        os.chmod(home / "data", 0o755)
        db = sqlite3.connect(home / "data" / "companion.db")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (?)", (SECRET_NOTE,))
        db.commit()
        db.close()
        (home / "data" / "logs" / f"daemon-{paths.workspace_key(workspace)}.log").write_text(f"{SECRET_NOTE}\n")
        (home / "data" / "spool" / "shell.tsv").write_text(f"c\t{SECRET_NOTE}\n")
        (home / "config.toml").write_text("[general]\n")
    finally:
        os.umask(old_umask)
    for path in (home / "data" / "companion.db", home / "config.toml", home / "data" / "spool" / "shell.tsv"):
        os.chmod(path, 0o644)


def test_an_older_install_is_made_private_at_start_with_one_note(open_base: Path, daemon_process) -> None:
    home, workspace = open_base / "home", open_base / "ws"
    _old_install(home, workspace)
    assert nobody_reads(home / "data" / "companion.db"), "the old install should start out readable"
    stored = home / "data" / "companion.db"
    process = daemon_process(workspace)
    with connect(workspace, start=False) as client:
        notes = client.request("status")["status"]["notes"]
    private_notes = [n for n in notes if "private (0600/0700)" in n]
    assert len(private_notes) == 1 and "other local users could read them" in private_notes[0], notes
    assert not _private_tree(home), _private_tree(home)
    for path in (stored, home / "data" / "spool" / "shell.tsv", home / "config.toml",
                 home / "data" / "logs" / f"daemon-{paths.workspace_key(workspace)}.log"):
        assert not nobody_reads(path), f"nobody still reads {path}"
    process.terminate()
    process.wait(20)
    # the next start has nothing to repair, and says nothing
    daemon_process(workspace)
    with connect(workspace, start=False) as client:
        notes = client.request("status")["status"]["notes"]
    assert not [n for n in notes if "private (0600/0700)" in n], notes


def test_the_repair_counts_only_what_other_users_could_reach(open_base: Path) -> None:
    """Files behind a 0700 folder are made private too, but not counted: nobody else could read
    them, and the note must not say they could."""
    home = open_base / "home"
    (home / "data").mkdir(parents=True)
    (home / "closed" / "sub").mkdir(parents=True)
    for folder, mode in ((home, 0o755), (home / "data", 0o755), (home / "closed", 0o700), (home / "closed" / "sub", 0o755)):
        os.chmod(folder, mode)
    files = [home / "data" / "open.log", home / "closed" / "hidden.log", home / "closed" / "sub" / "deeper.log"]
    for path in files:
        path.write_text(f"{SECRET_NOTE}\n")
        os.chmod(path, 0o644)
    assert [nobody_reads(path) for path in files] == [True, False, False]  # what "reach" means

    assert paths.make_private([home]) == 3  # home, data and open.log
    assert not _private_tree(home), _private_tree(home)  # every one of them is private now
    assert paths.make_private([home]) == 0
    # a root whose parent is closed to others: repaired, nothing counted
    os.chmod(home / "closed" / "sub", 0o755)
    os.chmod(home / "closed" / "sub" / "deeper.log", 0o644)
    assert paths.make_private([home / "closed" / "sub"]) == 0
    assert not _private_tree(home)
