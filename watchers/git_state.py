"""Reading what a repository is doing right now: HEAD, refs, operations in progress, conflicts,
stashes, the newest reflog entries, and (rarely) a summary of uncommitted work.

Why: the git watcher says what the user did by comparing two such snapshots. Each read is a
small file read or a single git command, and they run only after the cheap fingerprint
(`watchers.git_repo`) changed; `git status`, the one read whose cost grows with the size of the
working tree, is scheduled separately by the watcher. Every git command runs with
GIT_OPTIONAL_LOCKS=0 so companion never rewrites the index or competes with the user's own
git commands for its lock.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # no git executable must not break the import: create() says so

import git  # noqa: E402

from watchers.git_repo import RepoLocation

REF_PATTERNS = ("refs/heads", "refs/remotes", "refs/tags")
GIT_TIMEOUT_S = 60
CONFLICT_KINDS = {
    frozenset({1, 2, 3}): "both modified", frozenset({2, 3}): "both added", frozenset({1, 2}): "deleted by them",
    frozenset({1, 3}): "deleted by us", frozenset({2}): "added by us", frozenset({3}): "added by them",
    frozenset({1}): "both deleted",
}
_FIRST_BAD = re.compile(r"^# first bad commit: \[([0-9a-f]+)\] ?(.*)$", re.MULTILINE)


def short_ref(name: str | None) -> str | None:
    """refs/heads/main -> main, refs/remotes/origin/main -> origin/main, refs/tags/v1 -> v1."""
    if name is None:
        return None
    for prefix in ("refs/heads/", "refs/remotes/", "refs/tags/"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


@dataclass(frozen=True)
class ReflogEntry:
    old: str
    new: str
    message: str


@dataclass
class RepoState:
    """One snapshot of a repository, as far as the user's actions are concerned."""

    head_ref: str | None = None  # refs/heads/<branch>, or None when HEAD is detached
    head_sha: str | None = None  # None on an unborn branch (no commit yet)
    refs: dict[str, str] = field(default_factory=dict)  # full ref name -> object id
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)  # merge, rebase, ... -> details
    conflicts: list[dict[str, str]] = field(default_factory=list)  # [{"path", "kind"}]
    stash: list[str] = field(default_factory=list)  # stash messages, oldest first

    @property
    def branch(self) -> str | None:
        return short_ref(self.head_ref)

    @property
    def detached(self) -> bool:
        return self.head_ref is None

    def head_label(self) -> str:
        """The branch name, or the short commit of a detached HEAD."""
        if self.head_ref is not None:
            return short_ref(self.head_ref) or self.head_ref
        return self.head_sha[:7] if self.head_sha else "HEAD"


@dataclass
class DirtySummary:
    """What `git status` says about uncommitted work, counted per kind."""

    modified: int = 0
    added: int = 0
    deleted: int = 0
    renamed: int = 0
    untracked: int = 0
    conflicted: int = 0
    staged: int = 0
    names: list[str] = field(default_factory=list)

    @property
    def files(self) -> int:
        return self.modified + self.added + self.deleted + self.renamed + self.untracked + self.conflicted

    @property
    def dirty(self) -> bool:
        return self.files > 0

    def to_data(self, name_limit: int = 5) -> dict[str, Any]:
        return {"files": self.files, "modified": self.modified, "added": self.added, "deleted": self.deleted,
                "renamed": self.renamed, "untracked": self.untracked, "conflicted": self.conflicted,
                "staged": self.staged, "names": self.names[:name_limit]}


def parse_status(output: str) -> DirtySummary:
    """Parse `git status --porcelain=v1 -z`."""
    summary = DirtySummary()
    entries = output.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        x, y, path = entry[0], entry[1], entry[3:]
        if x in "RC":
            index += 1  # the rename's source path follows
        if x == "?" and y == "?":
            summary.untracked += 1
        elif x == "!":
            continue
        elif "U" in (x, y) or (x == y and x in "AD"):
            summary.conflicted += 1
        elif x == "A":
            summary.added += 1
        elif "D" in (x, y):
            summary.deleted += 1
        elif x in "RC":
            summary.renamed += 1
        else:
            summary.modified += 1
        if x not in " ?!U" and not (x == y and x in "AD"):
            summary.staged += 1
        summary.names.append(path)
    return summary


def parse_unmerged(output: str) -> list[dict[str, str]]:
    """Parse `git ls-files -u -z` into one entry per conflicted path, with the kind of conflict."""
    stages: dict[str, set[int]] = {}
    for entry in output.split("\0"):
        if "\t" not in entry:
            continue
        info, path = entry.split("\t", 1)
        parts = info.split()
        if len(parts) == 3 and parts[2].isdigit():
            stages.setdefault(path, set()).add(int(parts[2]))
    return [{"path": path, "kind": CONFLICT_KINDS.get(frozenset(found), "conflicted")}
            for path, found in sorted(stages.items())]


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


class ReflogTail:
    """New entries of an append-only reflog (logs/HEAD), read from where the last read stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = self._size()
        self.available = self.offset > 0 or path.exists()

    def _size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def read_new(self) -> list[ReflogEntry]:
        size = self._size()
        if size == 0:
            self.offset = 0
            return []
        self.available = True
        if size < self.offset:  # rewritten (reflog expire): the old position means nothing any more
            self.offset = size
            return []
        if size == self.offset:
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read(size - self.offset)
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        entries = []
        for line in complete.decode("utf-8", errors="replace").splitlines():
            head, _, message = line.partition("\t")
            parts = head.split(" ", 2)
            if len(parts) >= 2:
                entries.append(ReflogEntry(old=parts[0], new=parts[1], message=message))
        return entries


class GitReader:
    """The git commands and file reads the watcher needs, for one repository."""

    def __init__(self, repo: git.Repo, location: RepoLocation) -> None:
        self.repo = repo
        self.location = location
        self._abbrev: int | None = None
        self._abbrev_uses = 0
        # Name the repository explicitly: GitPython runs a command in its own current folder when the
        # repository's folder is gone, and git would then describe whatever repository that is.
        where = {"GIT_DIR": str(location.git_dir)}
        if location.root is not None:
            where["GIT_WORK_TREE"] = str(location.root)
        repo.git.update_environment(GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0", LC_ALL="C", **where)

    def run(self, *args: str, timeout: float = GIT_TIMEOUT_S) -> str:
        return self.repo.git.execute(["git", *args], kill_after_timeout=timeout)  # type: ignore[call-overload]

    # -- the snapshot -------------------------------------------------------------------------
    def read_state(self, previous: RepoState | None = None, index_changed: bool = True) -> RepoState:
        refs = self.read_refs()
        head_ref, detached_sha = self.read_head()
        head_sha = refs.get(head_ref) if head_ref else detached_sha
        if head_ref and head_sha is None:
            head_sha = self.resolve(head_ref)  # a ref outside the listed namespaces
        operations = self.read_operations()
        if self.location.bare:
            conflicts: list[dict[str, str]] = []
        elif index_changed or previous is None or operations.keys() != previous.operations.keys():
            conflicts = parse_unmerged(self.run("ls-files", "-u", "-z"))
        else:
            conflicts = previous.conflicts
        return RepoState(head_ref=head_ref, head_sha=head_sha, refs=refs, operations=operations,
                         conflicts=conflicts, stash=self.read_stash())

    def read_head(self) -> tuple[str | None, str | None]:
        text = _read_text(self.location.git_dir / "HEAD") or ""
        if not text:
            raise FileNotFoundError(f"{self.location.git_dir / 'HEAD'} is missing or empty")
        if text.startswith("ref:"):
            return text[4:].strip(), None
        return None, text or None

    def read_refs(self) -> dict[str, str]:
        output = self.run("for-each-ref", "--format=%(objectname) %(refname)", *REF_PATTERNS)
        refs: dict[str, str] = {}
        for line in output.splitlines():
            sha, _, name = line.partition(" ")
            if name and not (name.startswith("refs/remotes/") and name.endswith("/HEAD")):
                refs[name] = sha
        return refs

    def resolve(self, name: str) -> str | None:
        try:
            return self.run("rev-parse", "--verify", "-q", f"{name}^{{commit}}") or None
        except git.GitCommandError:
            return None

    def read_stash(self) -> list[str]:
        text = _read_text(self.location.common_dir / "logs" / "refs" / "stash")
        if not text:
            return []
        return [line.partition("\t")[2] for line in text.splitlines()]

    def read_operations(self) -> dict[str, dict[str, Any]]:
        """Which multi-step git operations are in progress, with what git recorded about them."""
        gd = self.location.git_dir
        found: dict[str, dict[str, Any]] = {}
        for folder, step_file, total_file in (("rebase-merge", "msgnum", "end"), ("rebase-apply", "next", "last")):
            path = gd / folder
            if not path.is_dir():
                continue
            if (path / "applying").exists():
                found["am"] = {}
                continue
            head_name = _read_text(path / "head-name") or ""
            found["rebase"] = {
                "branch_ref": head_name if head_name.startswith("refs/") else None,
                "onto_sha": _read_text(path / "onto"), "orig_head": _read_text(path / "orig-head"),
                # git writes `interactive` for every merge-backend rebase; only a plain one drops empty commits
                "interactive": (path / "interactive").exists() and not (path / "drop_redundant_commits").exists(),
                "step": _to_int(_read_text(path / step_file)), "total": _to_int(_read_text(path / total_file)),
                "stopped_sha": _read_text(gd / "REBASE_HEAD") or _read_text(path / "stopped-sha"),
            }
        merge_heads = _read_text(gd / "MERGE_HEAD")
        if merge_heads:
            message = (_read_text(gd / "MERGE_MSG") or "").splitlines()
            found["merge"] = {"heads": merge_heads.split(), "message": message[0] if message else ""}
        if "rebase" not in found:
            for name, kind in (("CHERRY_PICK_HEAD", "cherry-pick"), ("REVERT_HEAD", "revert")):
                sha = _read_text(gd / name)
                if sha:
                    found[kind] = {"commit_sha": sha}
        bisect_log = _read_text(gd / "BISECT_LOG")
        if bisect_log is not None or (gd / "BISECT_START").exists():
            first_bad = _FIRST_BAD.search(bisect_log or "")
            found["bisect"] = {"first_bad": first_bad.group(1) if first_bad else None,
                               "first_bad_summary": first_bad.group(2) if first_bad else None,
                               "start": _read_text(gd / "BISECT_START")}
        return found

    # -- details for events ---------------------------------------------------------------------
    def commit_info(self, sha: str, file_limit: int = 10) -> dict[str, Any]:
        """hash, short hash, summary, author, parents and the files changed with line counts."""
        commit = self.repo.commit(sha)
        summary = commit.summary if isinstance(commit.summary, str) else commit.summary.decode("utf-8", "replace")
        info: dict[str, Any] = {"hash": commit.hexsha, "short": self.short(commit.hexsha), "summary": summary,
                                "author": commit.author.name, "parents": len(commit.parents)}
        stats = commit.stats
        files = [{"path": path, "added": int(values.get("insertions", 0)), "removed": int(values.get("deletions", 0))}
                 for path, values in stats.files.items()]
        info.update(files=files[:file_limit], files_changed=len(files),
                    insertions=int(stats.total.get("insertions", 0)), deletions=int(stats.total.get("deletions", 0)))
        return info

    def short(self, sha: str) -> str:
        """The abbreviated hash as git prints it; git's length is asked now and then, not per hash."""
        if self._abbrev is None or self._abbrev_uses >= 200:
            try:
                self._abbrev = len(self.run("rev-parse", "--short", sha)) or 7
                self._abbrev_uses = 0
            except git.GitCommandError:
                return sha[:7]
        self._abbrev_uses += 1
        return sha[: self._abbrev]

    def summary(self, sha: str) -> str | None:
        try:
            return self.run("log", "-1", "--format=%s", sha) or None
        except git.GitCommandError:
            return None

    def parents(self, sha: str) -> list[str]:
        try:
            return self.run("rev-list", "--parents", "-n", "1", sha).split()[1:]
        except git.GitCommandError:
            return []

    def commits_between(self, old: str, new: str, limit: int) -> list[str]:
        """Commits reachable from `new` but not `old` (old may be empty), oldest first."""
        args = ["rev-list", "--reverse", f"--max-count={limit}", new] + ([f"^{old}"] if old else [])
        try:
            return self.run(*args).split()
        except git.GitCommandError:
            return []

    def ahead_behind(self, old: str, new: str) -> tuple[int, int] | None:
        """(commits new has that old lacks, commits old had that new lacks)."""
        try:
            behind, ahead = self.run("rev-list", "--left-right", "--count", f"{old}...{new}").split()
            return int(ahead), int(behind)
        except (git.GitCommandError, ValueError):
            return None

    def status(self) -> DirtySummary:
        return parse_status(self.run("status", "--porcelain=v1", "-z", "--untracked-files=normal"))


def describe_error(exc: BaseException) -> str:
    """A one-line reason: git's own complaint rather than GitPython's multi-line command dump."""
    if isinstance(exc, git.GitCommandError):
        lines = [line.strip() for line in str(exc.stderr or "").splitlines() if line.strip()]
        text = lines[-1] if lines else f"git exited with {exc.status}"
        return text.removeprefix("stderr: ").strip("'\" ")
    return f"{type(exc).__name__}: {exc}".strip()


def _to_int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None
