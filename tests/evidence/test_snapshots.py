"""The snapshot store on real files: privacy at rest, odd files, bounds and pruning, restarts."""

from __future__ import annotations

import json
import os
import stat
import time
import zlib
from pathlib import Path

from companion.evidence.blobs import BlobStore
from companion.evidence.snapshots import Snapshots
from companion.evidence.suspects import suspects
from companion.redact import Redactor

TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
AWS = "AKIAIOSFODNN7EXAMPLE"


def _snapshots(tmp_path: Path, **kwargs) -> Snapshots:
    return Snapshots(tmp_path / "ws", tmp_path / "evidence", Redactor(), **kwargs)


def _later(path: Path, text: str | bytes) -> None:
    """Write and make sure the file's mtime moves on (coarse file system clocks)."""
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 10_000_000))


def _green(snap: Snapshots, name: str = "cmd:make") -> None:
    snap.mark_green(name, name, "command", time.time(), snap.snapshot(time.time()))


def test_secrets_never_reach_the_disk_raw_and_files_are_private(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "settings.py").write_text(f"GITHUB = '{TOKEN}'\nKEY_ID = '{AWS}'\n")
    (ws / ".env").write_text(f"TOKEN={TOKEN}\n")
    snap = _snapshots(tmp_path)
    _green(snap)
    _later(ws / "settings.py", f"GITHUB = '{TOKEN}'\nKEY_ID = '{AWS}'\nDEBUG = True\n")
    changed = snap.changes_since(snap.greens["cmd:make"])
    hunks, _unread = suspects(changed)
    assert hunks[0]["added"] == ["DEBUG = True"] and TOKEN not in hunks[0]["hunk"]
    snap.save()
    for folder, dirs, files in os.walk(tmp_path / "evidence"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        for name in files:
            path = Path(folder) / name
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            raw = path.read_bytes()
            try:
                raw = zlib.decompress(raw)
            except zlib.error:
                pass
            assert TOKEN.encode() not in raw and AWS.encode() not in raw, path
    # the secret file by name is never read, so it holds no blob: its manifest entry says why
    manifest = snap.manifest(snap.greens["cmd:make"].manifest)
    assert manifest[".env"].startswith("!secret@")


def test_binary_huge_and_invalid_utf8_files_are_survived(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0" + os.urandom(2000))
    (ws / "huge.log").write_text("x" * 5000)
    (ws / "latin.txt").write_bytes(b"caf\xe9 au lait\nline two\n")
    (ws / "link").symlink_to("/etc/passwd")
    snap = _snapshots(tmp_path, max_file_bytes=4096)
    _green(snap)
    _later(ws / "image.png", b"\x89PNG\r\n\x1a\n\0\0" + os.urandom(2000))
    _later(ws / "huge.log", "y" * 6000)
    _later(ws / "latin.txt", b"caf\xe9 au lait\nline 2\n")
    hunks, unread = suspects(snap.changes_since(snap.greens["cmd:make"]))
    assert [(h["path"], h["line"], h["added"]) for h in hunks] == [("latin.txt", 2, ["line 2"])]
    assert {u["path"]: u["note"] for u in unread} == {"image.png": "binary", "huge.log": "too large"}


def test_unchanged_files_are_not_suspects_and_created_or_deleted_ones_are(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "keep.py").write_text("a = 1\n")
    (ws / "gone.py").write_text("b = 2\n")
    snap = _snapshots(tmp_path)
    _green(snap)
    os.utime(ws / "keep.py")  # touched, not changed
    (ws / "gone.py").unlink()
    (ws / "new.py").write_text("c = 3\n")
    hunks, unread = suspects(snap.changes_since(snap.greens["cmd:make"]))
    assert [(h["path"], h.get("created")) for h in hunks] == [("new.py", True)]
    assert [(u["path"], u["note"]) for u in unread] == [("gone.py", "deleted")]


def test_the_store_stays_under_its_bound_and_keeps_the_newest_green(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    bound = 120_000
    snap = _snapshots(tmp_path, max_store_bytes=bound, max_greens=50)
    for run in range(40):
        for n in range(4):  # incompressible content, so each green adds ~16 KB
            (ws / f"data{n}.txt").write_text(os.urandom(2000).hex() + "\n")
        _green(snap, f"cmd:run {run}")
        snap.prune()  # not forced: it prunes once 1/16 of the bound was written
        assert BlobStore(tmp_path / "evidence" / "blobs").size()[1] <= bound
    assert "cmd:run 39" in snap.greens and len(snap.greens) < 40
    newest = snap.greens["cmd:run 39"]
    assert snap.changes_since(newest) == []  # its manifest and blobs are intact
    _later(ws / "data0.txt", "changed\n")
    [change] = snap.changes_since(newest)
    assert change.old is not None and change.new == "changed\n"


def test_tree_states_are_capped(tmp_path: Path) -> None:
    from companion.evidence.snapshots import MAX_MANIFESTS

    ws = tmp_path / "ws"
    ws.mkdir()
    snap = _snapshots(tmp_path)
    for run in range(MAX_MANIFESTS + 5):
        (ws / "a.txt").write_text(f"version {run}\n")
        _green(snap, f"test:t{run}")
    assert len({g.manifest for g in snap.greens.values()}) == MAX_MANIFESTS
    assert "test:t4" not in snap.greens and f"test:t{MAX_MANIFESTS + 4}" in snap.greens


def test_greens_are_capped_and_blobs_no_green_needs_are_deleted(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    snap = _snapshots(tmp_path, max_greens=3)
    for run in range(6):
        (ws / "a.txt").write_text(f"version {run}\n")
        _green(snap, f"cmd:step {run}")
        snap.prune(force=True)
    assert sorted(snap.greens) == ["cmd:step 3", "cmd:step 4", "cmd:step 5"]
    blobs = {d for d, _ in BlobStore(tmp_path / "evidence" / "blobs").digests()}
    texts = {zlib.decompress((tmp_path / "evidence" / "blobs" / d[:2] / d[2:]).read_bytes()) for d in blobs}
    assert b"version 0\n" not in texts and b"version 5\n" in texts


def test_state_survives_a_restart_and_a_corrupt_state_starts_afresh(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("x = 1\n")
    snap = _snapshots(tmp_path)
    _green(snap)
    snap.save()
    _later(ws / "a.py", "x = 2\n")
    again = _snapshots(tmp_path)
    [change] = again.changes_since(again.greens["cmd:make"])
    assert (change.old, change.new) == ("x = 1\n", "x = 2\n")
    (tmp_path / "evidence" / "state.json").write_text("{not json")
    fresh = _snapshots(tmp_path)
    assert fresh.greens == {}
    # a blob lost or damaged on disk: the file is reported without text, nothing raises
    digest = snap.greens["cmd:make"].manifest
    manifest = json.loads(zlib.decompress((tmp_path / "evidence" / "blobs" / digest[:2] / digest[2:]).read_bytes()))
    blob = manifest["files"]["a.py"]
    (tmp_path / "evidence" / "blobs" / blob[:2] / blob[2:]).write_bytes(b"garbage")
    [change] = _snapshots(tmp_path).changes_since(snap.greens["cmd:make"])
    assert change.old is None and change.new == "x = 2\n"


def test_a_file_saved_after_the_run_keeps_its_content_of_the_run(tmp_path: Path) -> None:
    """The event of a green run can reach the pipeline after the user saved again (spool delay)."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("x = 1\n")
    snap = _snapshots(tmp_path)
    _green(snap, "cmd:first")
    run_ts = time.time() - 5
    (ws / "a.py").write_text("x = 2\n")  # saved after the run whose event comes now
    snap.mark_green("cmd:late", "late", "command", run_ts, snap.snapshot(run_ts))
    [change] = snap.changes_since(snap.greens["cmd:late"])
    assert (change.old, change.new) == ("x = 1\n", "x = 2\n")


def test_the_walk_follows_the_ignore_rules_and_is_bounded(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "node_modules" / "lib").mkdir(parents=True)
    (ws / "node_modules" / "lib" / "x.js").write_text("1")
    (ws / ".git").mkdir()
    (ws / ".git" / "HEAD").write_text("ref")
    for n in range(30):
        (ws / f"f{n:02}.txt").write_text(str(n))
    snap = Snapshots(ws, tmp_path / "evidence", Redactor(), lambda path, is_dir: path == "node_modules", max_files=10)
    found = snap.walk()
    assert len(found) == 10 and snap.walk_truncated
    assert not any(p.startswith(("node_modules", ".git")) for p in found)


def test_forget_deletes_the_snapshots_and_a_running_store_starts_afresh(workspace: Path) -> None:
    import json as json_module

    from companion.evidence.snapshots import folder_for
    from tests.conftest import run_cli

    (workspace / "a.py").write_text("x = 1\n")
    snap = Snapshots(workspace, folder_for(workspace), Redactor())
    _green(snap)
    snap.save()
    before = snap.greens["cmd:make"]
    result = run_cli("forget", str(workspace), "--all", "--json")
    assert result.returncode == 0, result.stderr
    assert json_module.loads(result.stdout)["snapshots"] == 1 and not folder_for(workspace).exists()
    _later(workspace / "a.py", "x = 2\n")
    assert snap.changes_since(before) == [] and snap.greens == {}
    snap.save()  # nothing of before comes back
    assert json_module.loads((folder_for(workspace) / "state.json").read_text())["greens"] == {}
    _green(snap)
    _later(workspace / "a.py", "x = 3\n")
    [change] = snap.changes_since(snap.greens["cmd:make"])
    assert (change.old, change.new) == ("x = 2\n", "x = 3\n")


def test_a_late_green_uses_the_cached_copy_older_than_the_run(tmp_path: Path) -> None:
    """Without an earlier green, the stat cache (filled at start) still knows the content of the run."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("x = 1\n")
    old = time.time() - 100
    os.utime(ws / "a.py", (old, old))
    snap = _snapshots(tmp_path)
    assert snap.prime() == 1
    run_ts = time.time() - 5
    (ws / "a.py").write_text("x = 2\n")  # saved after the run whose event comes now
    snap.mark_green("cmd:late", "late", "command", run_ts, snap.snapshot(run_ts))
    [change] = snap.changes_since(snap.greens["cmd:late"])
    assert (change.old, change.new) == ("x = 1\n", "x = 2\n")


def test_a_walk_cut_short_still_covers_the_saved_files_and_invents_no_creations(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    for n in range(30):
        (ws / f"f{n:02}.txt").write_text(f"{n}\n")
    old = time.time() - 100
    for path in ws.iterdir():
        os.utime(path, (old, old))
    snap = Snapshots(ws, tmp_path / "evidence", Redactor(), max_files=10)
    snap.touch("f25.txt")  # saved by the user: walked though past the cut
    _green(snap)
    assert "f25.txt" in snap.manifest(snap.greens["cmd:make"].manifest)
    _later(ws / "f25.txt", "twenty-five\n")
    (ws / "a_new.txt").write_text("new\n")  # shifts the cut: f09.txt falls out of the walk
    later = time.time() + 5
    os.utime(ws / "a_new.txt", (later, later))
    snap.touch("f29.txt")  # a hot file beyond the cut, unchanged since the green: no suspect
    changes = {c.path: c for c in snap.changes_since(snap.greens["cmd:make"])}
    assert (changes["f25.txt"].old, changes["f25.txt"].new) == ("25\n", "twenty-five\n")
    # a file the partial manifest does not know is not called created: its earlier content is unknown
    assert changes["a_new.txt"].old is None and changes["a_new.txt"].note == "no earlier copy"
    assert set(changes) == {"f25.txt", "a_new.txt"}


def test_a_late_first_green_never_takes_the_content_now(tmp_path: Path) -> None:
    """No copy older than the run anywhere (a fresh daemon, not a repository): the file saved after
    the run is recorded as unknown and reported as changed ("no earlier copy"), never as green."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("x = 1\n")
    (ws / "b.py").write_text("y = 1\n")
    old = time.time() - 100
    for name in ("a.py", "b.py"):
        os.utime(ws / name, (old, old))
    snap = _snapshots(tmp_path)
    start = time.time() - 3
    (ws / "a.py").write_text("x = 2\n")  # saved after the run whose event comes now
    snap.mark_green("cmd:late", "late", "command", start, snap.snapshot(start, start + 1.5))
    assert snap.manifest(snap.greens["cmd:late"].manifest)["a.py"].startswith("!unknown@")
    _later(ws / "b.py", "y = 2\n")
    changes = {c.path: c for c in snap.changes_since(snap.greens["cmd:late"])}
    assert (changes["a.py"].old, changes["a.py"].new, changes["a.py"].note) == (None, "x = 2\n", "no earlier copy")
    assert (changes["b.py"].old, changes["b.py"].new) == ("y = 1\n", "y = 2\n")


def test_a_late_first_green_takes_the_committed_version_read_only(tmp_path: Path) -> None:
    import hashlib

    from tests.conftest import git

    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "sub" / "a.py").write_text(f"x = 1\nTOKEN = '{TOKEN}'\n")
    (ws / ".env").write_text("KEY=1\n")
    (ws / "untracked.py").write_text("u = 1\n")
    git(ws, "init", "-q")
    git(ws, "add", "sub/a.py", ".env")
    git(ws, "commit", "-qm", "one")
    state = (hashlib.sha256((ws / ".git" / "index").read_bytes()).hexdigest(), git(ws, "for-each-ref"))
    snap = Snapshots(ws / "sub", tmp_path / "evidence", Redactor())  # the workspace: a folder of the repository
    start = time.time() - 3
    (ws / "sub" / "a.py").write_text(f"x = 2\nTOKEN = '{TOKEN}'\n")
    snap.mark_green("cmd:late", "late", "command", start, snap.snapshot(start, start + 1.0))
    [change] = snap.changes_since(snap.greens["cmd:late"])
    assert (change.path, change.old, change.new, change.note) == (  # redacted like every copy
        "a.py", "x = 1\nTOKEN = [REDACTED:github-token]\n", "x = 2\nTOKEN = [REDACTED:github-token]\n",
        "since the commit")
    [hunk], _unread = suspects([change])
    assert hunk["since"] == "commit" and hunk["removed"] == ["x = 1"] and hunk["added"] == ["x = 2"]
    # the whole repository: the secret file and an untracked file saved late are not read from git
    snap = Snapshots(ws, tmp_path / "evidence2", Redactor())
    start = time.time() - 3
    for name in (".env", "untracked.py"):
        _later(ws / name, "changed = 1\n")
    manifest = snap.manifest(snap.snapshot(start, start + 1.0))
    assert manifest[".env"].startswith("!unknown@") and manifest["untracked.py"].startswith("!unknown@")
    assert manifest["sub/a.py"].startswith("git:")
    assert (hashlib.sha256((ws / ".git" / "index").read_bytes()).hexdigest(), git(ws, "for-each-ref")) == state


def test_the_slack_after_the_run_is_short_unless_the_times_are_whole_seconds(tmp_path: Path) -> None:
    """Files written during the run (up to its end) are its content; a save half a second after
    the end is not (the hooks' times are precise), unless the times are whole seconds."""
    from companion.evidence.snapshots import mtime_slack

    assert mtime_slack(1712345678.25) == 0.2 and mtime_slack(1712345678.0) == 1.0
    ws = tmp_path / "ws"
    ws.mkdir()
    for name in ("built.txt", "saved.txt"):
        (ws / name).write_text("before\n")
    old = time.time() - 100
    for name in ("built.txt", "saved.txt"):
        os.utime(ws / name, (old, old))
    snap = _snapshots(tmp_path)
    assert snap.prime() == 2
    start = time.time() - 10.25
    (ws / "built.txt").write_text("written by the run\n")
    os.utime(ws / "built.txt", (start + 4, start + 4))
    (ws / "saved.txt").write_text("saved after the run\n")
    os.utime(ws / "saved.txt", (start + 5.5, start + 5.5))
    manifest = snap.manifest(snap.snapshot(start, start + 5))
    assert snap.text(manifest["built.txt"]) == "written by the run\n"
    assert snap.text(manifest["saved.txt"]) == "before\n"
    whole = float(int(start))  # whole-second times: saved.txt may be the run's (up to 1 s cut off)
    os.utime(ws / "saved.txt", (whole + 5.9, whole + 5.9))
    manifest = snap.manifest(snap.snapshot(whole, whole + 5))
    assert snap.text(manifest["saved.txt"]) == "saved after the run\n"


def test_committed_copies_without_git_or_outside_a_repository(tmp_path: Path, monkeypatch) -> None:
    from companion.evidence.committed import committed

    (tmp_path / "a.py").write_text("x = 1\n")
    assert committed(tmp_path, ["a.py"], 1000) == {}  # no repository (tmp_path is outside any)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert committed(tmp_path, ["a.py"], 1000) == {}  # no git at all


def test_a_file_the_green_walk_had_no_time_to_read_is_measured_from_the_commit(tmp_path: Path) -> None:
    """A green walk whose read budget ran out keeps no copy of some files ("!unread"); one of them
    changed since must still be a suspect (its committed version stands in), and an untouched one
    is no change at all."""
    from tests.conftest import git

    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "big.py").write_text("def f(x):\n    return x + 1\n")
    (ws / "same.py").write_text("y = 1\n")
    git(ws, "init", "-q")
    git(ws, "add", "-A")
    git(ws, "commit", "-qm", "one")
    snap = _snapshots(tmp_path, read_budget_s=0.0)  # the green's walk reads nothing in time
    start = time.time() - 3
    for name in ("big.py", "same.py"):  # saved well before the run
        os.utime(ws / name, (start - 10, start - 10))
    snap.mark_green("cmd:t", "t", "command", start, snap.snapshot(start, start + 1.0))
    manifest = snap.manifest(snap.greens["cmd:t"].manifest)
    assert manifest["big.py"].startswith("!unread@") and manifest["same.py"].startswith("!unread@")
    _later(ws / "big.py", "def f(x):\n    return x - 1\n")
    snap.read_budget_s = 2.0
    [change] = snap.changes_since(snap.greens["cmd:t"])
    assert (change.path, change.note) == ("big.py", "since the commit")
    [hunk], _unread = suspects([change])
    assert hunk["since"] == "commit" and hunk["removed"] == ["    return x + 1"] and hunk["added"] == ["    return x - 1"]
