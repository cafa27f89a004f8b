"""A merge, rebase, cherry-pick or revert that stopped on conflicts.

- At the conflict: `open` the first conflict marker, with both sides summarised (the commits on
  each side, since the merge base, that touched the file) and the list of conflicted files.
- When a conflicted file is saved: the next file that still has markers, or — once the last
  marker is gone — the `git add … && git <operation> --continue` step.

Git is only read (`git diff --name-only --diff-filter=U`, `git log`, `git merge-base`).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Iterator

from companion.quickfix.base import Candidate, Moment, rule

CONFLICT_LINE = re.compile(r"^CONFLICT \([^)]*\): (?:Merge conflict in |.*? in )(?P<path>\S+)", re.MULTILINE)
MARKER = "<<<<<<< "
OTHER_HEADS = (("MERGE_HEAD", "merge"), ("REBASE_HEAD", "rebase"), ("CHERRY_PICK_HEAD", "cherry-pick"),
               ("REVERT_HEAD", "revert"))
MAX_READ = 2_000_000


def _git(moment: Moment, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=moment.cwd, capture_output=True, text=True, timeout=3,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}, errors="replace")
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


def _root(moment: Moment) -> Path:
    top = _git(moment, "rev-parse", "--show-toplevel").strip()
    return Path(top) if top else moment.cwd


def conflicted_files(moment: Moment) -> list[str]:
    """Unmerged paths (relative to the repository's top), git's answer first, else the event's or the output's."""
    listed = [p for p in _git(moment, "diff", "--name-only", "--diff-filter=U").splitlines() if p]
    if listed:
        return listed
    files = moment.data.get("files")
    if isinstance(files, list) and files:
        return [str(f) for f in files]
    return [m.group("path") for m in CONFLICT_LINE.finditer(moment.output)]


def first_marker(path: Path) -> int | None:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_READ)
    except OSError:
        return None
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.startswith(MARKER.encode()):
            return number
    return None


def operation(moment: Moment) -> tuple[str, str] | None:
    """(the other side's ref, the operation) of the one in progress."""
    for ref, name in OTHER_HEADS:
        if _git(moment, "rev-parse", "--verify", "-q", ref).strip():
            return ref, name
    return None


def side_commits(moment: Moment, base: str, side: str, path: str) -> list[str]:
    if not base:
        return []
    text = _git(moment, "log", "--format=%h %s", "-3", f"{base}..{side}", "--", path)
    return [line.strip()[:100] for line in text.splitlines() if line.strip()]


@rule("conflicts.open_marker", triggers=("merge_conflict", "failed_command"))
def open_marker(moment: Moment) -> Iterator[Candidate]:
    """Open the first conflict marker, with both sides summarised and the conflicted files listed."""
    stopping = {"merge", "rebase", "pull", "cherry-pick", "revert", "am", "stash"}
    words = moment.argv[1:2] if moment.argv[:1] == ["git"] else []
    if moment.reason == "failed_command" and not CONFLICT_LINE.search(moment.output) and \
            not (words and words[0] in stopping and not moment.output.strip()):
        return  # a failed command that did not stop on a conflict (the output, when captured, says so)
    root = _root(moment)
    files = conflicted_files(moment)
    located = [(f, first_marker(root / f)) for f in files]
    located = [(f, line) for f, line in located if line is not None]
    if not located:
        return
    path, line = located[0]
    current = operation(moment)
    other, name = current if current else ("MERGE_HEAD", str(moment.data.get("operation") or "merge"))
    base = _git(moment, "merge-base", "HEAD", other).strip() if current else ""
    ours, theirs = side_commits(moment, base, "HEAD", path), side_commits(moment, base, other, path)
    relative = moment.relative(root / path) or path
    summary = [f"{len(files)} conflicted file(s): {', '.join(files[:8])}" + (" …" if len(files) > 8 else "")]
    if ours:
        summary.append(f"{'HEAD (upstream being rebased onto)' if name == 'rebase' else 'ours (HEAD)'}: " + "; ".join(ours))
    if theirs:
        summary.append(f"{'the commit being applied' if name == 'rebase' else 'theirs (' + other + ')'}: " + "; ".join(theirs))
    yield Candidate("", f"Resolve the {name} conflict in {relative} (line {line})", "open",
                    response="\n".join(summary), path=relative, line=line, confidence=0.8,
                    evidence={"conflicted_files": files[:20], "operation": name, "ours": ours, "theirs": theirs})


@rule("conflicts.continue", triggers=("conflict_edited",))
def continue_after_markers(moment: Moment) -> Iterator[Candidate]:
    """A conflicted file was saved: the next file with markers, or `git add` and `--continue`."""
    current = operation(moment)
    files = [p for p in _git(moment, "diff", "--name-only", "--diff-filter=U").splitlines() if p]
    if current is None or not files:
        return
    root = _root(moment)
    left = [(f, first_marker(root / f)) for f in files]
    left = [(f, line) for f, line in left if line is not None]
    if left:
        path, line = left[0]
        relative = moment.relative(root / path) or path
        yield Candidate("", f"Resolve the next conflict: {relative} line {line}", "open",
                        response=f"{len(left)} file(s) still have conflict markers: {', '.join(f for f, _ in left[:8])}",
                        path=relative, line=line, confidence=0.6,
                        evidence={"conflicted_files": files[:20], "with_markers": [f for f, _ in left[:20]]})
        return
    step = f"git add {' '.join(shlex.quote(f) for f in files)} && git {current[1]} --continue"
    yield Candidate("", f"All conflict markers are gone: mark the files resolved and continue the {current[1]}",
                    "run_command", response=step, confidence=0.85,
                    evidence={"conflicted_files": files[:20], "operation": current[1]})
