"""Finding the repository behind a workspace, and the cheap test that tells whether git did anything.

Why this exists: the git watcher must cost (almost) nothing while the user is not using git,
even in a repository of 100,000 files. Everything git does leaves a trace in a handful of files
of the git directory: HEAD, the index, the refs, the reflog, and the files that mark a merge,
rebase, cherry-pick, revert or bisect in progress. So each poll only `stat`s those (about twenty
system calls, no subprocess, no directory walk), and the watcher runs git commands only when
one of them changed.

Layouts handled by `locate`: an ordinary repository, a subfolder of one (the repository's top is
found), a linked worktree and a submodule (`.git` is a file pointing to the real git directory;
per-worktree files live there, refs in the shared "common" directory), a separate git directory
(`git init --separate-git-dir`), and a bare repository.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # no git executable must not break the import: create() says so

import git  # noqa: E402

# Files of the per-worktree git directory that change when git does something.
WORKTREE_FILES = ("HEAD", "index", "logs/HEAD", "ORIG_HEAD", "FETCH_HEAD", "MERGE_HEAD", "REBASE_HEAD",
                  "CHERRY_PICK_HEAD", "REVERT_HEAD", "BISECT_LOG", "rebase-merge", "rebase-apply", "sequencer",
                  "rebase-merge/msgnum", "rebase-apply/next")
# Files of the common git directory (shared by all worktrees).
COMMON_FILES = ("packed-refs", "refs/stash", "logs/refs/stash", "reftable/tables.list")
# A git command is half-way through while one of these exists; reading now would see a torn state.
LOCK_FILES = ("index.lock", "HEAD.lock")

@dataclass(frozen=True)
class RepoLocation:
    """Where the parts of a repository are."""

    root: Path | None  # top of the working tree; None for a bare repository
    git_dir: Path  # per-worktree git directory (HEAD, index, MERGE_HEAD, ...)
    common_dir: Path  # shared git directory (refs, packed-refs, objects)
    layout: str  # repository | linked worktree | submodule | separate git dir | bare
    has_submodules: bool = False

    @property
    def bare(self) -> bool:
        return self.root is None

    def describe(self) -> str:
        where = self.root if self.root is not None else self.git_dir
        extra = " with submodules" if self.has_submodules else ""
        return f"{self.layout}{extra} at {where}"


class NotARepository(Exception):
    """The workspace is not inside a git repository."""


def locate(workspace: Path) -> tuple[git.Repo, RepoLocation]:
    """Open the repository containing `workspace` (searching parent folders)."""
    try:
        repo = git.Repo(workspace, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise NotARepository(str(workspace)) from exc
    git_dir = Path(repo.git_dir).resolve()
    common_dir = Path(repo.common_dir).resolve()
    if repo.bare:
        return repo, RepoLocation(root=None, git_dir=git_dir, common_dir=common_dir, layout="bare")
    root = Path(repo.working_tree_dir or workspace).resolve()
    dot_git = root / ".git"
    if not dot_git.is_file():
        layout = "repository"
    elif git_dir.parent == common_dir / "worktrees":
        layout = "linked worktree"
    elif _is_submodule_dir(git_dir):
        layout = "submodule"
    else:
        layout = "separate git dir"
    has_submodules = (root / ".gitmodules").is_file()
    return repo, RepoLocation(root=root, git_dir=git_dir, common_dir=common_dir, layout=layout,
                              has_submodules=has_submodules)


def _is_submodule_dir(git_dir: Path) -> bool:
    """Submodules keep their git directory in the superproject's `.git/modules/<name>`."""
    parts = git_dir.parts
    return ".git" in parts and "modules" in parts[parts.index(".git"):]


def _signature(path: Path) -> tuple[int, int, int] | None:
    """(mtime, size, inode) of a file or folder; None when it does not exist."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


class RefFolders:
    """The mtimes of every folder under refs/.

    Git writes a loose ref as `name.lock` and renames it over `name`, and deletes refs by
    unlinking: either changes the mtime of the ref's folder, and a new folder changes its
    parent's. So statting the folders (a handful) sees every loose-ref change; a folder is
    listed again only when its own mtime changed.
    """

    def __init__(self, top: Path) -> None:
        self.top = top
        self._children: dict[Path, tuple[tuple[int, int, int] | None, list[Path]]] = {}

    def signature(self) -> tuple[tuple[str, Any], ...]:
        seen: list[tuple[str, Any]] = []
        pending = [self.top]
        while pending:
            folder = pending.pop()
            sig = _signature(folder)
            seen.append((str(folder), sig))
            cached = self._children.get(folder)
            if cached is None or cached[0] != sig:
                children = self._list(folder) if sig is not None else []
                self._children[folder] = (sig, children)
            else:
                children = cached[1]
            pending.extend(children)
        return tuple(seen)

    @staticmethod
    def _list(folder: Path) -> list[Path]:
        try:
            with os.scandir(folder) as entries:
                return sorted(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False))
        except OSError:
            return []


class Fingerprint:
    """A cheap summary of the git directory; two equal fingerprints mean git did nothing."""

    def __init__(self, location: RepoLocation) -> None:
        self.location = location
        self._ref_folders = RefFolders(location.common_dir / "refs")
        self._files: dict[str, Path] = {name: location.git_dir / name for name in WORKTREE_FILES}
        for name in COMMON_FILES:
            self._files[name] = location.common_dir / name

    def take(self) -> dict[str, Any]:
        parts: dict[str, Any] = {name: _signature(path) for name, path in self._files.items()}
        parts["refs/"] = self._ref_folders.signature()
        return parts

    def busy(self) -> bool:
        """True while git holds one of its lock files (an operation is half-way through)."""
        return any(os.path.exists(self.location.git_dir / name) for name in LOCK_FILES)

    def exists(self) -> bool:
        """False once the git directory is gone (the repository was deleted or moved)."""
        try:
            return stat.S_ISDIR(os.stat(self.location.git_dir).st_mode) and os.path.exists(self.location.git_dir / "HEAD")
        except OSError:
            return False


def changed_parts(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """The names of the fingerprint parts that differ."""
    return {name for name in after if before.get(name) != after.get(name)}
