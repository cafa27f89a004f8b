"""Apply the unified diff of an accepted `edit` proposal to the workspace, safely.

A proposal's patch comes from a small language model, so it is checked before anything is
written: it must be a unified diff, name only files inside the workspace (no absolute paths,
no `..`, no secret files), and `git apply --check` must accept it as a whole. Only then is it
applied, by git itself (atomic per patch: either every hunk applies or nothing changes).
`git apply` works in folders that are not repositories too.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_HEADER = re.compile(r"^(---|\+\+\+) (\S+)")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")


class PatchError(ValueError):
    """The patch is malformed, unsafe, or does not apply to the files as they are now."""


@dataclass(frozen=True)
class CheckedPatch:
    text: str  # the patch as it will be applied (headers added when the model left them out)
    strip: int  # the -p level: 1 for `a/` `b/` prefixes, else 0
    paths: tuple[str, ...]  # the files it changes, relative to the workspace


def _header_path(raw: str) -> str | None:
    if raw == "/dev/null":
        return None
    return raw


def normalise(patch: str, path: str | None = None) -> str:
    """Add `---`/`+++` headers to a bare hunk when the proposal names its file."""
    text = patch.replace("\r\n", "\n")
    if not text.endswith("\n"):
        text += "\n"
    has_headers = any(line.startswith("+++ ") for line in text.splitlines())
    if not has_headers and path and any(_HUNK.match(line) for line in text.splitlines()):
        start = next(i for i, line in enumerate(text.splitlines()) if _HUNK.match(line))
        body = "\n".join(text.splitlines()[start:]) + "\n"
        text = f"--- a/{path}\n+++ b/{path}\n{body}"
    return text


def check_patch(workspace: str | os.PathLike[str], patch: str, path: str | None = None) -> CheckedPatch:
    """Validate a patch against the workspace without changing anything; raises PatchError."""
    root = Path(workspace).resolve()
    if not root.is_dir():
        raise PatchError(f"the workspace {root} is not a folder")
    text = normalise(patch, path)
    lines = text.splitlines()
    if not any(_HUNK.match(line) for line in lines):
        raise PatchError("the proposal's edit is not a unified diff (no @@ hunk)")
    names: list[str] = []
    for line in lines:
        match = _HEADER.match(line)
        if match:
            name = _header_path(match.group(2))
            if name is not None:
                names.append(name)
    if not names:
        raise PatchError("the diff names no file (missing ---/+++ headers)")
    strip = 1 if all(n.startswith(("a/", "b/")) for n in names) else 0
    relative: list[str] = []
    for name in names:
        rel = name[2:] if strip else name
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts or not rel:
            raise PatchError(f"the diff names {name!r}, outside the workspace")
        target = (root / rel).resolve()
        if root != target and root not in target.parents:
            raise PatchError(f"the diff names {name!r}, which resolves outside the workspace")
        if ".git" in pure.parts:
            raise PatchError(f"the diff would change {name!r} inside .git")
        if rel not in relative:
            relative.append(rel)
    _git_apply(root, text, strip, check=True)
    return CheckedPatch(text=text, strip=strip, paths=tuple(relative))


def apply_patch(workspace: str | os.PathLike[str], patch: str, path: str | None = None) -> list[str]:
    """Check, then apply a patch; returns the files changed (relative to the workspace)."""
    checked = check_patch(workspace, patch, path)
    _git_apply(Path(workspace).resolve(), checked.text, checked.strip, check=False)
    return list(checked.paths)


def _git_apply(root: Path, text: str, strip: int, check: bool) -> None:
    command = ["git", "apply", f"-p{strip}", "--recount", "--whitespace=nowarn"]
    if check:
        command.append("--check")
    # paths in the patch are relative to the workspace, even when it is a subfolder of a repository
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(root.parent)}
    try:
        result = subprocess.run(command, cwd=root, input=text, capture_output=True, text=True, timeout=30, env=env)
    except FileNotFoundError:
        raise PatchError("git is not installed; it is needed to apply patches") from None
    except subprocess.TimeoutExpired:
        raise PatchError("git apply did not finish in 30 s") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().replace("error: ", "")
        raise PatchError(f"the patch does not apply: {detail or 'git apply failed'}")

