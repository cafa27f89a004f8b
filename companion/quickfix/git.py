"""git's own hints, turned into the command to run: push without an upstream, "did you mean",
a rejected (non-fast-forward) push, a checkout of a branch that does not exist, local changes
in the way of a switch, a switch that carried uncommitted work along, commits on a detached HEAD.

Read-only: the only git call lists branch names (`git for-each-ref`); nothing here touches the
index, refs or stash — commands are shown, never run.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import subprocess
from typing import Iterator

from companion.quickfix.base import Candidate, Moment, rule

SET_UPSTREAM = re.compile(r"^\s*(git push --set-upstream \S+ \S+)\s*$", re.MULTILINE)
NOT_A_COMMAND = re.compile(r"git: '(?P<typo>[^']+)' is not a git command")
SIMILAR = re.compile(r"The most similar commands? (?:is|are)\s*\n\s+(?P<fix>\S+)")
REJECTED = re.compile(r"!\s+\[rejected\].*\((?:fetch first|non-fast-forward)\)|Updates were rejected because")
MISSING_REF = re.compile(r"pathspec '(?P<a>[^']+)' did not match any file\(s\) known to git|invalid reference: (?P<b>\S+)"
                         r"|[Aa] branch named '(?P<c>[^']+)' (?:does not exist|not found)")
OVERWRITTEN = re.compile(r"Your local changes to the following files would be overwritten by (?P<op>\w+):\s*\n"
                         r"(?P<files>(?:[ \t]+\S.*\n?)+)")
COMMITS_LEFT = re.compile(r"git branch <new-branch-name> (?P<sha>[0-9a-f]{7,40})")


def _is_git(moment: Moment) -> bool:
    return bool(moment.argv) and os.path.basename(moment.argv[0]) == "git"


def git_read(moment: Moment, *args: str) -> str | None:
    """The output of a read-only git command in the command's folder, or None when it fails."""
    try:
        done = subprocess.run(["git", *args], cwd=moment.cwd, capture_output=True, text=True, timeout=3,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}, errors="replace")
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def branches(moment: Moment) -> list[str]:
    """Local and remote-tracking branch names of the repository the command ran in (short form)."""
    try:
        done = subprocess.run(["git", "for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/remotes"],
                              cwd=moment.cwd, capture_output=True, text=True, timeout=3,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return []
    return [name for name in done.stdout.split() if not name.endswith("/HEAD")] if done.returncode == 0 else []


def _missing_upstream(moment: Moment) -> str | None:
    """For a bare `git push` whose output was not captured: `git push --set-upstream REMOTE BRANCH`
    when the current branch has no upstream and the repository has a remote."""
    if moment.argv[1:] not in (["push"], ["push", "origin"]) or moment.output.strip():
        return None
    branch = (git_read(moment, "symbolic-ref", "--quiet", "--short", "HEAD") or "").strip()
    if not branch or git_read(moment, "rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}") is not None:
        return None
    remotes = (git_read(moment, "remote") or "").split()
    remote = "origin" if "origin" in remotes else (remotes[0] if remotes else "")
    return f"git push --set-upstream {remote} {branch}" if remote else None


@rule("git.push_upstream")
def push_upstream(moment: Moment) -> Iterator[Candidate]:
    """git push on a branch without an upstream: git's own `--set-upstream` line."""
    if not _is_git(moment):
        return
    found = SET_UPSTREAM.search(moment.output)
    command = found.group(1) if found else _missing_upstream(moment)
    if command:
        lines = moment.lines_matching(re.compile(r"no upstream branch")) if found else \
            [f"the branch {command.split()[-1]} has no upstream branch"]
        yield Candidate("", f"Push and set the upstream branch ({command.split()[-1]})", "run_command",
                        response=command, evidence={"output_lines": lines + ([command] if found else []),
                                                    "command": moment.command}, confidence=0.9 if found else 0.8)


@rule("git.did_you_mean")
def did_you_mean(moment: Moment) -> Iterator[Candidate]:
    """`git stauts`: git's "The most similar command is status"."""
    typo = NOT_A_COMMAND.search(moment.output) if _is_git(moment) else None
    similar = SIMILAR.search(moment.output) if typo else None
    if typo and similar and typo.group("typo") in moment.argv:
        argv = list(moment.argv)
        argv[argv.index(typo.group("typo"))] = similar.group("fix")
        fixed = shlex.join(argv)
        yield Candidate("", f"Run `{fixed[:80]}`", "run_command", response=fixed, confidence=0.9,
                        evidence={"output_lines": [typo.group(0), f"The most similar command is {similar.group('fix')}"],
                                  "command": moment.command})


@rule("git.push_rejected")
def push_rejected(moment: Moment) -> Iterator[Candidate]:
    """A rejected push (the remote has commits you do not): pull --rebase, then push."""
    if not _is_git(moment) or "push" not in moment.argv or not REJECTED.search(moment.output):
        return
    yield Candidate("", "Pull the remote's new commits with --rebase, then push again", "run_command",
                    response="git pull --rebase && " + moment.command, confidence=0.8,
                    evidence={"output_lines": moment.lines_matching(REJECTED), "command": moment.command})


@rule("git.missing_branch")
def missing_branch(moment: Moment) -> Iterator[Candidate]:
    """git checkout/switch of a branch that does not exist: the closest branch there is."""
    if not _is_git(moment) or not {"checkout", "switch", "merge", "rebase"} & set(moment.argv[1:3]):
        return
    found = MISSING_REF.search(moment.output)
    if not found:
        return
    wanted = next(g for g in found.groups() if g)
    names = branches(moment)
    local = {n.split("/", 1)[1] if "/" in n and n.split("/", 1)[0] in ("origin", "upstream") else n for n in names}
    match = difflib.get_close_matches(wanted, sorted(local - {wanted}), n=1, cutoff=0.5)
    if not match or wanted not in moment.argv:
        return
    argv = list(moment.argv)
    argv[argv.index(wanted)] = match[0]
    fixed = shlex.join(argv)
    yield Candidate("", f"Run `{fixed[:80]}` (branch {match[0]})", "run_command", response=fixed, confidence=0.8,
                    evidence={"output_lines": [found.group(0)], "command": moment.command, "closest": match[0]})


def _in_the_way(moment: Moment) -> list[str]:
    """For a failed `git checkout/switch BRANCH` whose output was not captured: the modified files
    that also differ on BRANCH (what git refuses to overwrite)."""
    if len(moment.argv) < 3 or moment.argv[1] not in ("checkout", "switch") or moment.output.strip():
        return []
    target = next((w for w in moment.argv[2:] if not w.startswith("-")), "")
    if not target or git_read(moment, "rev-parse", "--verify", "-q", f"{target}^{{commit}}") is None:
        return []
    modified = set((git_read(moment, "diff", "--name-only", "HEAD") or "").split("\n")) - {""}
    differing = set((git_read(moment, "diff", "--name-only", "HEAD", target) or "").split("\n")) - {""}
    return sorted(modified & differing)


@rule("git.changes_in_the_way")
def changes_in_the_way(moment: Moment) -> Iterator[Candidate]:
    """A switch refused because local changes would be overwritten: stash (or commit) those files."""
    if not _is_git(moment):
        return
    found = OVERWRITTEN.search(moment.output)
    if found:
        files = [line.strip() for line in found.group("files").splitlines() if line.strip()][:20]
        files = [f for f in files if not f.startswith(("Please", "Aborting"))]
        first_line = found.group(0).splitlines()[0]
    else:
        files = _in_the_way(moment)[:20]
        first_line = f"uncommitted changes to {', '.join(files[:3])} differ on the branch being checked out"
    if not files:
        return
    quoted = " ".join(shlex.quote(f) for f in files)
    named = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    why = {"output_lines": [first_line], "files": files, "command": moment.command}
    yield Candidate("", f"Stash your changes to {named}, then switch", "run_command",
                    response=f"git stash push -m 'before {moment.command[:40]}' -- {quoted} && {moment.command}",
                    path=moment.relative(files[0]), evidence=why, confidence=0.75)
    yield Candidate("", f"Commit your changes to {named} first", "run_command",
                    response=f"git commit -m 'WIP' -- {quoted}", path=moment.relative(files[0]), evidence=why,
                    confidence=0.55)


@rule("git.dirty_switch", triggers=("dirty_branch_switch",))
def dirty_switch(moment: Moment) -> Iterator[Candidate]:
    """A branch switch that carried uncommitted work along: commit it where it belongs, or stash it."""
    summary = moment.data.get("dirty_summary") if isinstance(moment.data.get("dirty_summary"), dict) else {}
    files = [str(n) for n in summary.get("names") or []]
    if not files:
        return
    count = int(summary.get("files") or len(files))
    named = ", ".join(files[:3]) + (f" and {count - 3} more" if count > 3 else "")
    came_from, went_to = moment.data.get("from") or "the previous branch", moment.data.get("to") or "this branch"
    quoted = " ".join(shlex.quote(f) for f in files)
    yield Candidate("", f"Stash the uncommitted changes to {named} that came along to {went_to}", "run_command",
                    response=f"git stash push -m 'work from {came_from}' -- {quoted}", path=moment.relative(files[0]),
                    confidence=0.6, evidence={"files": files, "from": came_from, "to": went_to,
                                              "explanation": f"Your uncommitted changes to {named} were made on "
                                                             f"{came_from} and came along to {went_to}. Stash them "
                                                             f"(or `git switch -` and commit them there)."})


@rule("git.detached_commit", triggers=("detached_commit", "failed_command"))
def detached_commit(moment: Moment) -> Iterator[Candidate]:
    """Commits on a detached HEAD (or left behind by a checkout): keep them on a new branch."""
    sha = ""
    if moment.kind == "git.commit" and moment.data.get("detached"):
        sha = str(moment.data.get("short") or moment.data.get("hash") or "")[:12]
        line = f"commit {sha} was made on a detached HEAD"
    else:
        found = COMMITS_LEFT.search(moment.output)
        if found is None:
            return
        sha, line = found.group("sha"), found.group(0)
    if not sha:
        return
    yield Candidate("", f"Keep commit {sha} on a new branch (it was made on a detached HEAD)", "run_command",
                    response=f"git branch keep-{sha[:7]} {sha}", confidence=0.7,
                    evidence={"output_lines": [line], "commit": sha})
