"""The git watcher (GitPython): commits, branch switches, merges and rebases, conflicts, stashes,
fetches and pulls, and uncommitted work that stays uncommitted for long.

Why it is built this way: a companion that costs CPU while the user does nothing is one the
user uninstalls. Every `git_poll_seconds` the watcher only stats the few files git touches when
it does anything (`watchers.git_repo.Fingerprint`); when one changed it reads the new state with
a few cheap git commands (`watchers.git_state`) and describes the difference as events
(`watchers.git_changes`). `git status`, whose cost grows with the working tree, runs only for the
dirty-tree summary: at most once a minute (sooner after the index changed), and never more often
than keeps it under 0.5% of a core on a big repository.

Odd repository states (a corrupt object, a lock file left behind, an unreadable file) are
reported through `context.report_error` once and the watcher carries on; a repository that is
deleted while watched stops the watcher cleanly.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import time
from typing import Any

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")  # no git executable must not break the import: create() says so

import git  # noqa: E402

from watchers.base import WatchContext, Watcher
from watchers.git_changes import ChangeDescriber
from watchers.git_repo import Fingerprint, NotARepository, RepoLocation, changed_parts, locate
from watchers.git_state import DirtySummary, GitReader, ReflogTail, RepoState, describe_error

log = logging.getLogger(__name__)
MAX_LOCK_DEFERRALS = 5  # polls to wait for a git command holding index.lock/HEAD.lock (then: a stale lock)
MAX_TORN_RETRIES = 3  # polls to wait for a state read half-way through a git command to complete
SETTLE_TRIES = 5
STATUS_CPU_SHARE = 0.0025  # `git status` may use at most this share of a core on average
MAX_STATUS_INTERVAL_S = 300.0  # the dirty-tree clock is read from file mtimes, so rare checks stay accurate


def _children_cpu() -> float | None:
    """CPU seconds used by finished child processes (git commands), where the platform says."""
    try:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    except (OSError, ValueError):
        return None
    return usage.ru_utime + usage.ru_stime


def create(context: WatchContext) -> "GitWatcher | None":
    executable = git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git"
    if shutil.which(executable) is None:
        context.note(f"git is not installed (no `{executable}` on PATH); running without the git watcher")
        return None
    try:
        repo, location = locate(context.workspace)
    except NotARepository:
        context.note(f"{context.workspace} is not a git repository; running without the git watcher")
        return None
    return GitWatcher(context, repo, location)


def dirty_threshold_seconds(context: WatchContext) -> float:
    """`watch.dirty_tree_seconds` when set (> 0), else `watch.dirty_tree_minutes`; 0 turns the report off."""
    watch = context.config.watch
    seconds = float(getattr(watch, "dirty_tree_seconds", 0.0) or 0.0)
    return seconds if seconds > 0 else float(watch.dirty_tree_minutes) * 60.0


class GitWatcher(Watcher):
    name = "git"

    def __init__(self, context: WatchContext, repo: git.Repo, location: RepoLocation) -> None:
        super().__init__(context)
        self.repo = repo
        self.location = location
        self.poll_seconds = max(0.05, float(context.config.watch.git_poll_seconds))
        self.reader = GitReader(repo, location)
        self.fingerprint = Fingerprint(location)
        self.reflog = ReflogTail(location.git_dir / "logs" / "HEAD")
        self.describer = ChangeDescriber(self.reader, self._dirty_for_event)
        self.state: RepoState | None = None
        self._parts: dict[str, Any] = {}
        self._deferrals = 0
        self._torn_reads = 0
        self._problems: dict[str, str] = {}  # step -> the problem reported for it, until the step succeeds
        # the dirty-tree clock
        self.dirty_threshold = dirty_threshold_seconds(context)
        self._status_interval = min(MAX_STATUS_INTERVAL_S, max(self.poll_seconds, self.dirty_threshold / 10))
        self._last_status = float("-inf")
        self._status_cost = 0.0
        self._status_soon = False
        self._dirty_since: float | None = None  # wall-clock start of the current stretch of uncommitted work
        self._dirty_reported = False
        self._stretch_floor = time.time()  # the stretch cannot have begun before this (last clean tree, commit)

    # -- the loop ----------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._step("start", self._baseline)
            while not self.wait(self.poll_seconds):
                if not self.fingerprint.exists():
                    self.context.report_error(self.name, "the git repository was deleted or moved; the git watcher stopped",
                                              str(self.location.root or self.location.git_dir))
                    return
                self._step("poll", self.tick)
        finally:
            self.repo.close()

    def _step(self, step: str, action: Any) -> None:
        """Run one step; an odd repository state is reported once (until that step works again), never raised."""
        try:
            action()
            self._problems.pop(step, None)
        except Exception as exc:
            log.debug("git watcher step %s failed", step, exc_info=True)
            if not self.fingerprint.exists():
                return  # the repository is being deleted: the loop reports that once, and stops
            problem = describe_error(exc)
            if self._problems.get(step) not in (None, problem):
                self._problems.pop(step)  # a different problem now: say so
            if problem not in self._problems.values():  # several steps may trip over the same problem
                self._problems[step] = problem
                self.context.report_error(self.name, problem, str(self.location.root or self.location.git_dir))

    def _baseline(self) -> None:
        """The state when watching begins; an operation or conflict already under way is reported."""
        self._parts = self.fingerprint.take()
        state = self.reader.read_state()
        self.state = state
        empty = RepoState()
        for kind, data in self.describer.operations_started(empty, state):
            self._emit(kind, {**data, "status": "in progress"})
        for kind, data in self.describer.conflicts(empty, state):
            self._emit(kind, data)
        self._step("status", lambda: self._check_dirty(force=True))

    def tick(self) -> None:
        parts = self.fingerprint.take()
        if self.state is None:  # the baseline failed (e.g. a corrupt repository): try again once git did something
            if parts != self._parts:
                self._step("start", self._baseline)
            return
        if changed_parts(self._parts, parts):
            if self.fingerprint.busy() and self._deferrals < MAX_LOCK_DEFERRALS:
                self._deferrals += 1  # a git command is half-way through; look again next poll
                return
            self._deferrals = 0
            parts = self._settle(parts)
            changed = changed_parts(self._parts, parts)
            torn: list[bool] = []
            self._step("refresh", lambda: torn.append(self._refresh(changed, parts)))
            if not (torn and torn[0]):
                self._parts = parts  # otherwise the same change is looked at again next poll
        self._step("status", self._check_dirty)

    def _settle(self, parts: dict[str, Any]) -> dict[str, Any]:
        """Wait until the git directory stops changing (a command writes several files), briefly."""
        for _ in range(SETTLE_TRIES):
            if self.wait(min(0.05, self.poll_seconds / 2)):
                break
            again = self.fingerprint.take()
            if again == parts:
                break
            parts = again
        return parts

    def _refresh(self, changed: set[str], parts: dict[str, Any]) -> bool:
        """Read the new state and emit what changed; True when the read was torn and must be redone."""
        assert self.state is not None
        index_changed = "index" in changed
        current = self.reader.read_state(self.state, index_changed=index_changed)
        if not self.fingerprint.exists():
            return False  # deleted while being read: the next poll says so and stops
        if self._torn(current, parts) and self._torn_reads < MAX_TORN_RETRIES:
            self._torn_reads += 1
            return True
        self._torn_reads = 0
        entries = self.reflog.read_new()
        changes = self.describer.describe(self.state, current, entries, self.reflog.available,
                                          fetched="FETCH_HEAD" in changed, index_changed=index_changed)
        self.state = current
        for kind, data in changes:
            if kind == "git.commit":  # committing starts a new stretch
                self._dirty_since, self._dirty_reported, self._stretch_floor = None, False, time.time()
            self._emit(kind, data)
        if index_changed or changes:
            self._status_soon = True
        return False

    def _torn(self, current: RepoState, parts: dict[str, Any]) -> bool:
        """Did git write while we read, or stop between its writes? (A merge writes the conflicted
        index before MERGE_HEAD: conflicts without an operation may be a merge half-way through.)"""
        if self.fingerprint.take() != parts:
            return True
        assert self.state is not None
        return bool(current.conflicts and not current.operations and not self.state.conflicts)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        self.context.event("git", kind, data)

    # -- uncommitted work ------------------------------------------------------------------------------
    def _run_status(self) -> DirtySummary:
        started, cpu_before = time.monotonic(), _children_cpu()
        summary = self.reader.status()
        finished = time.monotonic()
        # the CPU git used (the wall time counts waiting for a busy CPU too); at least a millisecond
        self._status_cost = max(0.001, _children_cpu() - cpu_before) if cpu_before is not None else finished - started
        self._last_status = finished
        self._status_soon = False
        self._track_dirty(summary)
        return summary

    def _dirty_for_event(self) -> DirtySummary | None:
        """For a branch switch event: is the tree dirty right now? (None when git cannot say.)"""
        if self.location.bare:
            return None
        summary: list[DirtySummary] = []
        self._step("status", lambda: summary.append(self._run_status()))
        return summary[0] if summary else None

    def _check_dirty(self, force: bool = False) -> None:
        if self.location.bare or self.dirty_threshold <= 0:
            return
        gap = time.monotonic() - self._last_status
        floor = max(self.poll_seconds, self._status_cost / STATUS_CPU_SHARE)
        due = gap >= max(self._status_interval, floor) or (self._status_soon and gap >= floor)
        if force or due:
            self._run_status()

    def _track_dirty(self, summary: DirtySummary) -> None:
        now = time.time()
        if not summary.dirty:
            self._dirty_since, self._dirty_reported, self._stretch_floor = None, False, now
            return
        if self._dirty_since is None:
            self._dirty_since = max(self._stretch_floor, self._oldest_change(summary.names) or now)
        elapsed = now - self._dirty_since
        busy = bool(self.state and self.state.operations)  # a merge or rebase under way has its own events
        if not self._dirty_reported and not busy and elapsed >= self.dirty_threshold:
            self._dirty_reported = True
            branch = self.state.branch if self.state else None
            self._emit("git.dirty", {**summary.to_data(), "branch": branch, "seconds": round(elapsed, 1),
                                     "minutes": round(elapsed / 60.0, 1)})

    def _oldest_change(self, names: list[str], limit: int = 20) -> float | None:
        """When the uncommitted work began, as far as the files' mtimes tell (a few stats)."""
        root = self.location.root
        times = []
        for name in names[:limit]:
            try:
                times.append((root / name).stat().st_mtime)  # type: ignore[operator]
            except OSError:
                continue  # deleted files have no mtime
        return min(times) if times else None
