"""What git ignores produces nothing, and ignored folders are not even watched."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git
from tests.filewatch.conftest import inotify_watch_count
from watchers.ignore import IgnoreRules


def _populate_ignored(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.log\n/output/\n")
    (repo / "src" / "gen").mkdir(parents=True)
    (repo / "src" / ".gitignore").write_text("gen/\n*.tmp.py\n!keep.tmp.py\n")
    (repo / ".git" / "info" / "exclude").write_text("scratch/\n")
    (repo / "user").mkdir(exist_ok=True)
    global_ignore = Path.home() / "global-ignore"
    global_ignore.write_text("*.globalignored\n")
    git(repo, "config", "--global", "core.excludesFile", str(global_ignore))
    for folder in ("output", "scratch", "node_modules/left-pad", "myenv/lib", ".venv/lib", "build",
                   "__pycache__", "src/gen/deep", "custom"):
        (repo / folder).mkdir(parents=True, exist_ok=True)
    (repo / "myenv" / "pyvenv.cfg").write_text("home = /usr/bin\n")


def test_ignored_paths_produce_no_events(repo: Path, watch) -> None:
    _populate_ignored(repo)
    w = watch(repo, ignore=["custom/", "*.secretnotes"])
    for path in ("debug.log", "output/report.txt", "scratch/try.py", "node_modules/left-pad/index.js",
                 "myenv/lib/site.py", ".venv/lib/x.py", "build/out.o", "__pycache__/m.cpython-311.pyc",
                 "src/gen/deep/code.py", "src/module.tmp.py", "custom/a.txt", "plan.secretnotes",
                 "notes.globalignored", ".git/scratch-file", "main.py.swp"):
        (repo / path).write_text("ignored\n")
    (repo / "src" / "keep.tmp.py").write_text("kept = True\n")  # re-included by a negation
    (repo / "src" / "real.py").write_text("real = True\n")
    w.wait_for("file.created", "src/real.py")
    events = w.settle()
    assert sorted(e["path"] for e in events) == ["src/keep.tmp.py", "src/real.py"], events


def test_ignored_folders_get_no_inotify_watch(repo: Path, watch) -> None:
    _populate_ignored(repo)
    before = inotify_watch_count()
    w = watch(repo)
    kept = {"", "src", "user", "custom"}
    assert set(w.watcher.tree.dirs) == kept
    # what the kernel holds for this process: one watch per kept folder, none for ignored ones
    assert inotify_watch_count() - before == len(kept)


def test_gitignore_edited_while_watching_takes_effect(repo: Path, watch) -> None:
    (repo / "data").mkdir()
    w = watch(repo)
    (repo / ".gitignore").write_text("data/\n")
    w.wait_for("file.created", ".gitignore")
    w.settle()
    w.clear()
    (repo / "data" / "big.csv").write_text("1,2\n")
    (repo / "visible.txt").write_text("x\n")
    w.wait_for("file.created", "visible.txt")
    assert [e["path"] for e in w.settle()] == ["visible.txt"]
    assert "data" not in w.watcher.tree.dirs


def test_rules_follow_git_precedence(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.txt\n")
    (repo / "docs").mkdir()
    (repo / "docs" / ".gitignore").write_text("!*.txt\n")
    rules = IgnoreRules(repo)
    assert rules.is_ignored("notes.txt", False)
    assert not rules.is_ignored("docs/notes.txt", False)  # the deeper .gitignore wins
    assert rules.is_ignored("node_modules", True) and rules.is_ignored(".git", True)
    assert not rules.is_ignored("build", False)  # "build/" is a folder rule: a file named build is kept
    assert rules.is_ignored("tools/build", True)
    assert not rules.is_ignored("src", True)


def test_workspace_inside_a_repository_uses_the_outer_gitignore(repo: Path, watch) -> None:
    (repo / ".gitignore").write_text("sub/cache/\n*.bak\n")
    (repo / "sub" / "cache").mkdir(parents=True)
    w = watch(repo / "sub")
    assert set(w.watcher.tree.dirs) == {""}
    (repo / "sub" / "cache" / "x").write_text("x")
    (repo / "sub" / "old.bak").write_text("x")
    (repo / "sub" / "kept.txt").write_text("x")
    w.wait_for("file.created", "kept.txt")
    assert [e["path"] for e in w.settle()] == ["kept.txt"]


def test_doctor_counts_the_folders_this_workspace_needs_watched(repo: Path) -> None:
    import watchers.tree  # noqa: F401  (registers the check)
    from companion.checks import run_checks

    _populate_ignored(repo)
    (repo / "src" / "deep" / "er").mkdir(parents=True)
    result = next(r for r in run_checks(repo) if r.name == "watched folders")
    assert result.ok
    assert result.detail.startswith("6 folders, ")  # ., src, src/deep, src/deep/er, user, custom


def test_a_default_guess_gives_way_to_tracked_files(repo: Path, watch) -> None:
    (repo / "build").mkdir()
    (repo / "build" / "release.sh").write_text("#!/bin/sh\n")
    git(repo, "add", "build/release.sh")  # this project keeps scripts in build/
    (repo / "dist").mkdir()  # an untracked dist/ is still ignored
    (repo / ".gitignore").write_text("out/\n")
    (repo / "out").mkdir()
    w = watch(repo)
    assert set(w.watcher.tree.dirs) == {"", "build"}
    (repo / "build" / "release.sh").write_text("#!/bin/sh\necho release\n")
    (repo / "dist" / "app.js").write_text("1")
    saved = w.wait_for("file.saved", "build/release.sh")
    assert saved["baseline"] == "git"
    assert [e["path"] for e in w.settle()] == ["build/release.sh"]
