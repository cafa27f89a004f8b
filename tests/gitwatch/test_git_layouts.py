"""Repository layouts: no commits yet, linked worktrees, submodules (both ways), a `.git` file
pointing elsewhere, a bare repository, a subfolder of a repository, and a folder that is none."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git
from tests.gitwatch.conftest import commit_file

from companion.render import render


def test_not_a_repository_runs_without_the_git_watcher(workspace: Path, watch) -> None:
    recorder = watch(workspace)
    assert recorder.watcher is None
    assert recorder.notes == [f"{workspace} is not a git repository; running without the git watcher"]
    assert recorder.errors == []


def test_repository_without_commits(tmp_path: Path, watch) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q")
    recorder = watch(root, dirty_seconds=0.2)
    assert recorder.errors == []
    git(root, "checkout", "-q", "-b", "trunk")
    switched = recorder.wait("git.branch")
    assert switched.data["unborn"] is True and switched.data["to"] == "trunk"
    assert render(switched).startswith("The user switched from `main` to `trunk`, a branch with no commits yet")
    (root / "hello.py").write_text("print('hi')\n")
    recorder.wait("git.dirty", lambda d: d["untracked"] == 1)
    git(root, "add", "hello.py")
    git(root, "commit", "-qm", "First!")
    first = recorder.wait("git.commit")
    assert (first.data["origin"], first.data["initial"], first.data["branch"]) == ("initial", True, "trunk")
    assert render(first).startswith(f'The user made the first commit {first.data["short"]} "First!" on `trunk`, '
                                    "changing 1 file (+1 −0)")
    assert recorder.errors == []


def test_linked_worktree(repo: Path, tmp_path: Path, watch) -> None:
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "hotfix", str(linked))
    assert (linked / ".git").is_file()
    recorder = watch(linked)
    assert recorder.watcher.location.layout == "linked worktree"
    commit_file(linked, "fix.py", "fixed = True\n", "Hotfix the crash")
    event = recorder.wait("git.commit")
    assert (event.data["summary"], event.data["branch"]) == ("Hotfix the crash", "hotfix")
    # a commit in the main worktree moves `main`, but is not this worktree's commit or switch
    commit_file(repo, "other.txt", "x\n", "Work elsewhere")
    moved = recorder.wait("git.refs")
    assert [r["ref"] for r in moved.to_dict()["data"]["refs"]] == ["main"]
    recorder.settle()
    assert [e.kind for e in recorder.events] == ["git.commit", "git.refs"], recorder.texts()


def _with_submodule(tmp_path: Path) -> tuple[Path, Path]:
    library = tmp_path / "library"
    library.mkdir()
    git(library, "init", "-q")
    commit_file(library, "lib.py", "x = 1\n", "Library")
    app = tmp_path / "app"
    app.mkdir()
    git(app, "init", "-q")
    commit_file(app, "app.py", "import lib\n", "App")
    git(app, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "vendor/lib")
    git(app, "commit", "-qm", "Add the library as a submodule")
    return app, app / "vendor" / "lib"


def test_workspace_that_is_a_submodule(tmp_path: Path, watch) -> None:
    _app, sub = _with_submodule(tmp_path)
    assert (sub / ".git").is_file()
    git(sub, "checkout", "-q", "-b", "patch")
    recorder = watch(sub)
    assert recorder.watcher.location.layout == "submodule"
    commit_file(sub, "lib.py", "x = 2\n", "Patch the library")
    event = recorder.wait("git.commit")
    assert (event.data["summary"], event.data["branch"]) == ("Patch the library", "patch")


def test_workspace_containing_submodules(tmp_path: Path, watch) -> None:
    app, sub = _with_submodule(tmp_path)
    recorder = watch(app, dirty_seconds=0.2)
    assert recorder.watcher.location.has_submodules
    (sub / "lib.py").write_text("x = 3\n")
    dirty = recorder.wait("git.dirty")
    assert dirty.to_dict()["data"]["names"] == ["vendor/lib"]
    commit_file(app, "app.py", "import lib\nlib.x\n", "Use the library")
    event = recorder.wait("git.commit")
    assert event.data["files_changed"] == 1


def test_subfolder_of_a_repository(repo: Path, watch) -> None:
    (repo / "api").mkdir()
    recorder = watch(repo / "api")
    assert recorder.watcher.location.root == repo
    commit_file(repo, "api/routes.py", "routes = []\n", "Add routes")
    event = recorder.wait("git.commit")
    assert event.to_dict()["data"]["files"] == [{"path": "api/routes.py", "added": 1, "removed": 0}]


def test_dot_git_file_pointing_to_a_separate_git_dir(tmp_path: Path, watch) -> None:
    root = tmp_path / "work"
    git(tmp_path, "init", "-q", f"--separate-git-dir={tmp_path / 'elsewhere.git'}", str(root))
    assert (root / ".git").is_file()
    commit_file(root, "a.txt", "a\n", "Start")
    recorder = watch(root)
    assert recorder.watcher.location.layout == "separate git dir"
    commit_file(root, "b.txt", "b\n", "Continue")
    assert recorder.wait("git.commit").data["summary"] == "Continue"
    git(root, "checkout", "-q", "-b", "side")
    assert recorder.wait("git.branch").data["to"] == "side"


def test_bare_repository_reports_pushes_as_refs(repo: Path, tmp_path: Path, watch) -> None:
    bare = tmp_path / "shared.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    git(repo, "remote", "add", "shared", str(bare))
    recorder = watch(bare, dirty_seconds=0.1)
    assert recorder.watcher.location.bare
    commit_file(repo, "x.txt", "x\n", "Pushed work")
    git(repo, "push", "-q", "shared", "main")
    event = recorder.wait("git.refs")
    entry = event.to_dict()["data"]["refs"][0]
    assert (entry["ref"], entry["ahead"]) == ("main", 1)
    recorder.settle()
    assert not recorder.of_kind("git.commit") and not recorder.of_kind("git.dirty"), recorder.texts()
    assert recorder.errors == []


def test_without_a_git_executable_the_watcher_says_so(repo: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = (
        "from pathlib import Path\n"
        "from companion.config import Config\n"
        "from companion.redact import Redactor\n"
        "from watchers import build\n"
        "from watchers.base import WatchContext\n"
        f"context = WatchContext(workspace=Path({str(repo)!r}), config=Config(), emit=print, redactor=Redactor())\n"
        "print(build(context, {'git_watcher'}), context.notes)\n"
    )
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    env = {**os.environ, "PATH": str(empty_path)}
    env.pop("GIT_PYTHON_REFRESH", None)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "[] ['git is not installed (no `git` on PATH); running without the git watcher']" in result.stdout
