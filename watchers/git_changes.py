"""Turning the difference between two repository snapshots into the events a user would name.

Why: git leaves state, not intentions. The same moved branch may be a commit, a pull, a
fast-forward merge, a reset or the end of a rebase; the reflog of HEAD says which (it records
"commit: ...", "pull: Fast-forward", "reset: moving to ...", "rebase (finish): ..."), and where
there is no reflog (disabled, bare repositories) the shape of the change decides. This module
only describes; `watchers.git_watcher` decides when to look and emits what it returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from watchers.git_state import DirtySummary, GitReader, ReflogEntry, RepoState, describe_error, short_ref

MAX_COMMIT_EVENTS = 10  # a burst of commits between two polls (e.g. `git am`) is capped
MAX_REFS_LISTED = 20
HEAD_MOVING_OPERATIONS = ("rebase", "am", "bisect")  # while these run, HEAD moves without the user switching
_MERGE = re.compile(r"^merge (\S+): (.*)$")
_REBASE = re.compile(r"^rebase(?: -i)? \((\w+)\): (.*)$")
_REF_PRIORITY = ("refs/heads/", "refs/remotes/", "refs/tags/")

Change = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class NewCommit:
    sha: str
    origin: str  # commit | initial | amend | merge | cherry-pick | revert
    merged: str | None = None  # for a merge made by `git merge X`: X
    branch: str | None = None  # the branch it was made on; None on a detached HEAD


@dataclass
class HeadStory:
    """What the new reflog entries of HEAD say happened."""

    commits: list[NewCommit] = field(default_factory=list)
    reason: str | None = None  # pull | merge | reset, when the branch moved without a commit of the user's
    switched: bool = False  # a checkout happened
    checkout_target: str | None = None  # what the last checkout named: a branch, a tag, a hash, HEAD~2
    rebase_onto: str | None = None
    rebase_finished: str | None = None  # the branch a rebase returned to


def read_story(entries: list[ReflogEntry], branch: str | None, branches: set[str]) -> HeadStory:
    """Walk the new reflog entries in order; `branch` is the branch HEAD was on before them."""
    story = HeadStory()
    for entry in entries:
        message = entry.message
        if message.startswith("commit"):
            origin = "merge" if message.startswith("commit (merge)") else "commit"
            if message.startswith("commit (amend)"):
                origin = "amend"
            elif message.startswith("commit (initial)"):
                origin = "initial"
            story.commits.append(NewCommit(entry.new, origin, branch=branch))
        elif message.startswith("cherry-pick"):
            story.commits.append(NewCommit(entry.new, "cherry-pick", branch=branch))
        elif message.startswith("revert"):
            story.commits.append(NewCommit(entry.new, "revert", branch=branch))
        elif message.startswith("pull"):
            story.reason = "pull"
        elif (match := _MERGE.match(message)) is not None:
            if "Fast-forward" in match.group(2):
                story.reason = story.reason or "merge"
            else:
                story.commits.append(NewCommit(entry.new, "merge", merged=match.group(1), branch=branch))
        elif message.startswith("reset:"):
            story.reason = story.reason or "reset"
        elif message.startswith("checkout:"):
            story.switched = True
            target = message.rsplit(" to ", 1)[-1]
            story.checkout_target = target
            branch = target if target in branches else None
        elif (match := _REBASE.match(message)) is not None:
            step, rest = match.groups()
            if step == "start" and rest.startswith("checkout "):
                story.rebase_onto = rest[len("checkout "):]
            elif step == "finish":
                story.rebase_finished = rest.rsplit(" ", 1)[-1]
    return story


class ChangeDescriber:
    """Compares snapshots; `dirty_now` runs `git status` when an event needs to know (branch switch)."""

    def __init__(self, reader: GitReader, dirty_now: Callable[[], DirtySummary | None]) -> None:
        self.reader = reader
        self.dirty_now = dirty_now

    # -- naming ---------------------------------------------------------------------------------
    def name_of(self, sha: str | None, state: RepoState, prefer_branch: bool = True) -> str | None:
        """The nicest name for a commit: a local branch, a remote branch, a tag, or its short hash."""
        if not sha:
            return None
        if prefer_branch:
            for prefix in _REF_PRIORITY:
                names = sorted(n for n, s in state.refs.items() if s == sha and n.startswith(prefix))
                if names:
                    return short_ref(names[0])
        return self.reader.short(sha)

    def commit_label(self, sha: str | None) -> dict[str, Any]:
        if not sha:
            return {}
        return {"commit": sha, "short": self.reader.short(sha), "summary": self.reader.summary(sha)}

    # -- the whole comparison ---------------------------------------------------------------------
    def describe(self, prev: RepoState, cur: RepoState, reflog: list[ReflogEntry], reflog_available: bool,
                 fetched: bool, index_changed: bool) -> list[Change]:
        branches = {short_ref(n) or n for n in (*prev.refs, *cur.refs) if n.startswith("refs/heads/")}
        story = read_story(reflog, prev.branch, branches) if reflog_available else None
        changes: list[Change] = []
        changes += self.operations_started(prev, cur)
        changes += self.conflicts(prev, cur)
        head_changes, accounted = self.head(prev, cur, story, fetched)
        changes += head_changes
        changes += self.refs(prev, cur, story, fetched, accounted)
        changes += self.stash(prev, cur, index_changed)
        changes += self.operations_finished(prev, cur, story)
        return changes

    # -- operations -------------------------------------------------------------------------------
    def operation_data(self, kind: str, details: dict[str, Any], state: RepoState) -> dict[str, Any]:
        data: dict[str, Any] = {"operation": kind, "branch": state.branch, "detached": state.detached}
        if kind == "rebase":
            data["branch"] = short_ref(details.get("branch_ref")) or state.branch
            data.update(onto=self.name_of(details.get("onto_sha"), state), interactive=details.get("interactive", False),
                        step=details.get("step"), total=details.get("total"))
        elif kind == "merge":
            heads = details.get("heads") or []
            data["merging"] = [self.name_of(sha, state) for sha in heads]
            data["message"] = details.get("message", "")
        elif kind in ("cherry-pick", "revert"):
            data.update(self.commit_label(details.get("commit_sha")))
        elif kind == "bisect":
            if details.get("first_bad"):
                data["first_bad"] = self.reader.short(details["first_bad"])
                data["first_bad_summary"] = details.get("first_bad_summary")
        return data

    def operations_started(self, prev: RepoState, cur: RepoState) -> list[Change]:
        return [("git.operation", {**self.operation_data(kind, details, cur), "status": "started"})
                for kind, details in cur.operations.items() if kind not in prev.operations]

    def operations_finished(self, prev: RepoState, cur: RepoState, story: HeadStory | None) -> list[Change]:
        changes: list[Change] = []
        for kind, details in prev.operations.items():
            if kind in cur.operations:
                continue
            data = {**self.operation_data(kind, details, prev), "status": "finished",
                    "outcome": self.outcome(kind, details, prev, cur)}
            if kind == "bisect":
                data["outcome"] = "found" if details.get("first_bad") else "stopped"
            changes.append(("git.operation", data))
        seen_rebase = "rebase" in prev.operations or "rebase" in cur.operations
        if story is not None and story.rebase_finished and not seen_rebase:
            # a rebase that started and finished between two polls: only the reflog saw it
            changes.append(("git.operation", {"operation": "rebase", "status": "finished", "outcome": "completed",
                                              "branch": short_ref(story.rebase_finished), "onto": story.rebase_onto,
                                              "detached": cur.detached, "interactive": None}))
        return changes

    def outcome(self, kind: str, details: dict[str, Any], prev: RepoState, cur: RepoState) -> str:
        if kind == "merge":
            parents = self.reader.parents(cur.head_sha) if cur.head_sha else []
            return "completed" if set(details.get("heads") or []) <= set(parents) and parents else "aborted"
        if kind in ("rebase", "am"):
            branch_ref = details.get("branch_ref")
            tip = cur.refs.get(branch_ref) if branch_ref else cur.head_sha
            return "aborted" if tip == details.get("orig_head") else "completed"
        if kind in ("cherry-pick", "revert"):
            return "completed" if cur.head_sha != prev.head_sha else "aborted"
        return "finished"

    # -- conflicts ----------------------------------------------------------------------------------
    def conflict_labels(self, state: RepoState) -> tuple[str | None, dict[str, Any]]:
        """The operation that stopped, and the labels of both sides as git's conflict markers name them."""
        ops = state.operations
        here = state.head_label()
        if "rebase" in ops:
            rebase = ops["rebase"]
            stopped = self.commit_label(rebase.get("stopped_sha"))
            return "rebase", {"ours": self.name_of(rebase.get("onto_sha"), state), "theirs": stopped.get("short"),
                              "theirs_summary": stopped.get("summary"),
                              "branch": short_ref(rebase.get("branch_ref"))}
        if "merge" in ops:
            heads = ops["merge"].get("heads") or []
            return "merge", {"ours": here, "theirs": ", ".join(filter(None, (self.name_of(h, state) for h in heads)))}
        for kind in ("cherry-pick", "revert"):
            if kind in ops:
                label = self.commit_label(ops[kind].get("commit_sha"))
                return kind, {"ours": here, "theirs": label.get("short"), "theirs_summary": label.get("summary")}
        if "am" in ops:
            return "am", {"ours": here, "theirs": None}
        return None, {"ours": here, "theirs": None}

    def conflicts(self, prev: RepoState, cur: RepoState) -> list[Change]:
        before = {c["path"] for c in prev.conflicts}
        after = {c["path"] for c in cur.conflicts}
        if after and after != before and not after <= before:
            operation, labels = self.conflict_labels(cur)
            return [("git.conflict", {"status": "stopped", "operation": operation, "branch": cur.branch, **labels,
                                      "files": [c["path"] for c in cur.conflicts], "conflicts": cur.conflicts})]
        if before and not after:
            operation, labels = self.conflict_labels(prev)
            finished = [k for k in prev.operations if k not in cur.operations]
            aborted = any(self.outcome(k, prev.operations[k], prev, cur) == "aborted" for k in finished)
            if not aborted:
                return [("git.conflict", {"status": "resolved", "operation": operation, "branch": prev.branch,
                                          **labels, "files": sorted(before)})]
        return []

    # -- HEAD: commits and switches -----------------------------------------------------------------
    def head(self, prev: RepoState, cur: RepoState, story: HeadStory | None,
             fetched: bool) -> tuple[list[Change], set[str]]:
        changes: list[Change] = []
        accounted: set[str] = set()
        busy = any(k in HEAD_MOVING_OPERATIONS for k in (*prev.operations, *cur.operations))
        commits = self.new_commits(prev, cur, story, busy, fetched)
        for commit in commits[-MAX_COMMIT_EVENTS:]:
            try:
                info = self.reader.commit_info(commit.sha)
            except Exception as exc:  # a missing or corrupt object: still say a commit happened
                info = {"hash": commit.sha, "short": commit.sha[:7], "summary": None, "error": describe_error(exc)}
            info.update(branch=commit.branch, detached=commit.branch is None, origin=commit.origin,
                        amend=commit.origin == "amend", initial=commit.origin == "initial",
                        merge=(info.get("parents") or 0) > 1)
            if commit.merged:
                info["merged"] = commit.merged
            changes.append(("git.commit", info))
        if story is None or story.reason is None:
            made = {c.sha for c in commits}
            accounted.update(n for n, sha in cur.refs.items() if n.startswith("refs/heads/") and sha in made)
        if story is not None and story.rebase_finished:
            accounted.add(story.rebase_finished)
        for state in (prev, cur):  # the branch being rebased moves as part of the rebase
            for kind in ("rebase", "am"):
                if kind in state.operations:
                    accounted.add(state.operations[kind].get("branch_ref") or "")
        switched = prev.head_ref != cur.head_ref or (
            cur.detached and prev.detached and prev.head_sha != cur.head_sha
            and (story.switched if story is not None else not commits))
        if switched and not busy and not (story is not None and story.rebase_finished):
            changes.append(("git.branch", self.branch_data(prev, cur, story)))
            if cur.head_ref and cur.head_ref not in prev.refs and cur.refs.get(cur.head_ref) == prev.head_sha:
                accounted.add(cur.head_ref)  # `git checkout -b`: the new branch is part of the switch
        return changes, accounted

    def new_commits(self, prev: RepoState, cur: RepoState, story: HeadStory | None,
                    busy: bool, fetched: bool) -> list[NewCommit]:
        if story is not None:
            return story.commits
        # no reflog: commits are new history on the same branch that did not come from a fetch
        # (in a bare repository nobody commits: branches move by pushes, reported as refs)
        if self.reader.location.bare or busy or fetched:
            return []
        if prev.head_ref != cur.head_ref or not cur.head_sha or prev.head_sha == cur.head_sha:
            return []
        if prev.head_sha:
            counts = self.reader.ahead_behind(prev.head_sha, cur.head_sha)
            if counts is None or counts[1] > 0:
                return []  # history was rewritten (reset, rebase): not new commits
        known = set(prev.refs.values())
        shas = self.reader.commits_between(prev.head_sha or "", cur.head_sha, MAX_COMMIT_EVENTS)
        return [NewCommit(sha, "initial" if not prev.head_sha and i == 0 else "commit", branch=cur.branch)
                for i, sha in enumerate(shas) if sha not in known]

    def branch_data(self, prev: RepoState, cur: RepoState, story: HeadStory | None) -> dict[str, Any]:
        data: dict[str, Any] = {"from": prev.head_label(), "to": cur.head_label(), "detached": cur.detached,
                                "from_detached": prev.detached, "unborn": cur.head_sha is None,
                                "created": bool(cur.head_ref and cur.head_ref not in prev.refs)}
        data.update(self.commit_label(cur.head_sha))
        if cur.detached and cur.head_sha:
            named = story.checkout_target if story is not None else None
            data["at"] = named if named and not cur.head_sha.startswith(named) else self.name_of(cur.head_sha, cur)
        dirty = self.dirty_now()
        if dirty is not None:
            data["dirty"] = dirty.dirty
            data["dirty_summary"] = dirty.to_data()
        return data

    # -- other refs: fetch, pull, push, branches and tags ----------------------------------------------
    def refs(self, prev: RepoState, cur: RepoState, story: HeadStory | None, fetched: bool,
             accounted: set[str]) -> list[Change]:
        moved = sorted(n for n in set(prev.refs) | set(cur.refs)
                       if prev.refs.get(n) != cur.refs.get(n) and n not in accounted)
        if not moved:
            return []
        remote_moved = any(n.startswith("refs/remotes/") for n in moved)
        head_reason = story.reason if story is not None else None
        if head_reason == "pull" or (fetched and cur.head_ref in moved and remote_moved):
            reason = "pull"
        elif remote_moved:
            reason = "fetch" if fetched else "push"
        elif head_reason and cur.head_ref in moved:
            reason = head_reason
        elif all(n.startswith("refs/tags/") for n in moved):
            reason = "tag"
        else:
            reason = "update"
        entries = [self.ref_entry(n, prev.refs.get(n), cur.refs.get(n), cur) for n in moved[:MAX_REFS_LISTED]]
        remotes = sorted({n.split("/")[2] for n in moved if n.startswith("refs/remotes/") and n.count("/") >= 3})
        return [("git.refs", {"reason": reason, "refs": entries, "more": max(0, len(moved) - MAX_REFS_LISTED),
                              "remotes": remotes, "branch": cur.branch,
                              "commits": sum(e.get("ahead") or 0 for e in entries)})]

    def ref_entry(self, name: str, old: str | None, new: str | None, cur: RepoState) -> dict[str, Any]:
        entry: dict[str, Any] = {"ref": short_ref(name), "full": name, "from": old, "to": new,
                                 "from_short": self.reader.short(old) if old else None,
                                 "to_short": self.reader.short(new) if new else None}
        if old is None:
            entry["change"] = "created"
        elif new is None:
            entry["change"] = "deleted"
        else:
            counts = self.reader.ahead_behind(old, new)
            if counts is None:
                entry["change"] = "moved"
            else:
                entry["ahead"], entry["behind"] = counts
                entry["change"] = "forced" if counts[1] else "fast-forward"
        return entry

    # -- stash ---------------------------------------------------------------------------------------------
    def stash(self, prev: RepoState, cur: RepoState, index_changed: bool) -> list[Change]:
        before, after = len(prev.stash), len(cur.stash)
        if after > before:
            return [("git.stash", {"action": "push", "count": after, "message": cur.stash[-1], "branch": cur.branch})]
        if after < before:
            if after == 0 and before > 1:
                action = "clear"
            else:  # a pop rewrites the index and leaves the stashed changes in the tree; a drop does neither
                dirty = self.dirty_now() if index_changed else None
                action = "pop" if dirty is not None and dirty.dirty else "drop"
            return [("git.stash", {"action": action, "count": after, "branch": cur.branch,
                                   "message": prev.stash[-1] if action != "clear" else None})]
        if before and cur.stash != prev.stash:
            return [("git.stash", {"action": "push", "count": after, "message": cur.stash[-1], "branch": cur.branch})]
        return []
