"""Unified diffs: check that a model's patch applies cleanly, and apply it when the user accepts.

A proposal's `edit` is offered only if every hunk's old lines are found in the current file
(at the stated line, or elsewhere when a small model miscounted); otherwise the patch is not
offered at all. Pure Python, so it works in folders that are not git repositories, and nothing
is written until `apply_to_file` is called on accept.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchError(ValueError):
    """The diff cannot be read or does not apply to the file as it is now."""


@dataclass
class Hunk:
    old_start: int
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)


@dataclass
class FilePatch:
    path: str | None
    hunks: list[Hunk]


def _strip_prefix(name: str) -> str | None:
    name = name.strip().split("\t")[0]
    if name == "/dev/null":
        return None
    if name[:2] in ("a/", "b/"):
        name = name[2:]
    return name


def parse_diff(diff: str) -> FilePatch:
    """The target path (from the +++ line) and hunks of a single-file unified diff."""
    path: str | None = None
    hunks: list[Hunk] = []
    current: Hunk | None = None
    lines = diff.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the diff's final newline ends its last line; it is not a blank context line
    for raw in lines:
        if raw.startswith("```"):
            continue
        if raw.startswith("+++ "):
            path = _strip_prefix(raw[4:]) or path
            current = None
            continue
        if raw.startswith("--- ") and current is None:
            path = path or _strip_prefix(raw[4:])
            continue
        match = _HUNK.match(raw)
        if match:
            current = Hunk(old_start=int(match.group(1)))
            hunks.append(current)
            continue
        if current is None:
            continue
        if raw.startswith("\\"):
            continue  # "\ No newline at end of file"
        marker, text = (raw[:1], raw[1:]) if raw else (" ", "")
        if marker == " ":
            current.old.append(text)
            current.new.append(text)
        elif marker == "-":
            current.old.append(text)
        elif marker == "+":
            current.new.append(text)
        else:
            current = None  # text after the diff (a model's explanation) ends the hunk
    hunks = [h for h in hunks if h.old != h.new]
    if not hunks:
        raise PatchError("no unified diff hunk (@@ -a,b +c,d @@) that changes anything")
    for hunk in hunks:  # trailing blank context the model added after its last change
        while hunk.old and hunk.new and hunk.old[-1] == "" and hunk.new[-1] == "" and len(hunk.old) > 1:
            hunk.old.pop()
            hunk.new.pop()
    return FilePatch(path=path, hunks=hunks)


def _find(lines: list[str], needle: list[str], near: int, start: int) -> int:
    """Index where `needle` occurs at or after `start`, preferring the one closest to `near`."""
    if not needle:
        return max(start, min(near, len(lines)))
    found = [i for i in range(start, len(lines) - len(needle) + 1) if lines[i:i + len(needle)] == needle]
    if not found:
        raise PatchError(f"the lines around line {near + 1} do not match the file")
    return min(found, key=lambda i: abs(i - near))


def apply_patch(text: str, patch: FilePatch) -> str:
    """The file's new content; raises PatchError when a hunk does not match."""
    trailing_newline = text.endswith("\n")
    lines = text.split("\n")
    if trailing_newline:
        lines.pop()
    out: list[str] = []
    position = 0
    for hunk in patch.hunks:
        index = _find(lines, hunk.old, max(0, hunk.old_start - 1), position)
        out.extend(lines[position:index])
        out.extend(hunk.new)
        position = index + len(hunk.old)
    out.extend(lines[position:])
    return "\n".join(out) + ("\n" if trailing_newline or not text else "")


def resolve_target(workspace: Path, path: str) -> Path:
    """The file a patch names, which must lie inside the workspace."""
    root = workspace.resolve()
    target = (root / path).resolve()
    if target != root and root not in target.parents:
        raise PatchError(f"{path} is outside the workspace")
    return target


def check_patch(workspace: Path, diff: str, path: str | None = None) -> tuple[str, str]:
    """(relative path, new content) if the diff applies cleanly to the file as it is now."""
    patch = parse_diff(diff)
    name = path or patch.path
    if not name:
        raise PatchError("the diff does not name a file")
    target = resolve_target(workspace, name)
    if not target.is_file():
        raise PatchError(f"{name} does not exist")
    original = target.read_text(encoding="utf-8", errors="strict")
    return os.path.relpath(target, workspace.resolve()), apply_patch(original, patch)


def apply_to_file(workspace: Path, diff: str, path: str | None = None) -> Path:
    """Apply a checked diff to its file (atomically); only ever called when the user accepts."""
    relative, content = check_patch(workspace, diff, path)
    target = resolve_target(workspace, relative)
    tmp = target.with_name(f".{target.name}.companion-tmp")
    tmp.write_text(content, encoding="utf-8")
    os.chmod(tmp, target.stat().st_mode & 0o7777)
    os.replace(tmp, target)
    return target
