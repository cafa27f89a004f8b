"""The one patch engine: read an `edit` proposal's unified diff, find its hunks in a file, apply it.

Every part that touches a proposal's patch uses this module, so they agree on what the patch
changes: the agent checks that a model's diff applies before offering it, the TUI shows the check
before asking, the daemon applies it on an accept from the CLI or the TUI (`apply`), and the
language server turns the located hunks into a WorkspaceEdit so the editor applies it in its own
buffer (and undo history). Nothing is written except by `apply`.

Patches come from small models, so the reader is lenient where it is safe: a hunk is looked for
at the line it names and, when the model miscounted or the user typed since, at the nearest
place where its old lines match exactly. It is strict where it matters: one file per patch, a
file inside the workspace (not `.git`), UTF-8 text, and every hunk found, or nothing changes.
Pure Python, so it works in folders that are not git repositories.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

MAX_FILE_BYTES = 4_000_000
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # the line breaks LSP counts, so line numbers agree with editors
_SPLIT = re.compile(r"(\r\n|\r|\n)")


class PatchError(ValueError):
    """The patch cannot be read, names a file it may not change, or does not apply to it as it is now."""


@dataclass(frozen=True)
class Hunk:
    old_start: int  # 1-based, as in the header
    old_count: int  # from the header (1 when omitted); 0 means "insert after line old_start"
    old: tuple[str, ...]  # the lines it expects (context and removed)
    new: tuple[str, ...]  # the lines it leaves (context and added)


@dataclass(frozen=True)
class FilePatch:
    path: str | None  # the file the diff names (without a/ b/), None when it names none
    hunks: tuple[Hunk, ...]


@dataclass(frozen=True)
class Change:
    """A hunk located in a text: lines [first, last) (0-based) become `new`."""

    first: int
    last: int
    new: tuple[str, ...]


@dataclass(frozen=True)
class CheckedEdit:
    """A patch checked against a file: what it is now and what it becomes."""

    path: str  # relative to the workspace, posix
    target: Path
    before: str
    after: str


class _Draft:
    """A hunk while it is read: the counts its header announced, the lines so far."""

    def __init__(self, old_start: int, old_count: int, new_count: int) -> None:
        self.old_start, self.old_count, self.new_count = old_start, old_count, new_count
        self.old: list[str] = []
        self.new: list[str] = []

    def expects(self, marker: str) -> bool:
        """Whether a `--- x` (`+++ x`) line is still the hunk's removed (added) line `-- x` (`++ x`)
        rather than the next file's header: while the hunk holds fewer lines than it announced."""
        return len(self.old) < self.old_count if marker == "-" else len(self.new) < self.new_count


def _name(raw: str) -> str | None:
    name = raw.strip().split("\t")[0]
    if name == "/dev/null":
        return None
    return name[2:] if name[:2] in ("a/", "b/") else name


def parse(diff: str) -> FilePatch:
    """The file and the hunks of a unified diff; text around the diff (a model's prose, code
    fences) is skipped. Raises PatchError for no hunk, or for a diff that changes several files."""
    names: list[str] = []
    hunks: list[_Draft] = []
    current: _Draft | None = None
    lines = _LINE_BREAK.split(diff)
    if lines and lines[-1] == "":
        lines.pop()  # the diff's final newline ends its last line; it is not a blank context line
    for raw in lines:
        if raw.startswith("```"):
            current = None
            continue
        if raw.startswith(("+++ ", "--- ")) and (current is None or not current.expects(raw[0])):
            name = _name(raw[4:])
            if name and name not in names:
                names.append(name)
            current = None
            continue
        match = _HUNK.match(raw)
        if match:
            old_count, new_count = (int(g) if g is not None else 1 for g in match.group(2, 4))
            current = _Draft(int(match.group(1)), old_count, new_count)
            hunks.append(current)
            continue
        if current is None or raw.startswith("\\"):  # "\ No newline at end of file"
            continue
        marker, text = (raw[:1], raw[1:]) if raw else (" ", "")
        if marker == " ":
            current.old.append(text)
            current.new.append(text)
        elif marker == "-":
            current.old.append(text)
        elif marker == "+":
            current.new.append(text)
        else:
            current = None  # prose after the diff ends the hunk
    if len(names) > 1:
        raise PatchError(f"the patch changes {len(names)} files ({', '.join(names)}); a proposal's patch may change one")
    kept: list[Hunk] = []
    for draft in hunks:
        old, new = draft.old, draft.new
        while len(old) > 1 and old[-1] == "" and new and new[-1] == "":  # blank context a model added at the end
            old.pop()
            new.pop()
        if old != new:
            kept.append(Hunk(draft.old_start, draft.old_count, tuple(old), tuple(new)))
    if not kept:
        raise PatchError("the proposal's edit is not a unified diff (no @@ hunk that changes anything)")
    return FilePatch(path=names[0] if names else None, hunks=tuple(kept))


def split_lines(text: str) -> tuple[list[str], list[str]]:
    """The lines of a text (without their breaks) and each line's break: "\\n", "\\r\\n", "\\r",
    or "" for a last line that has none. Lines are counted as LSP counts them."""
    parts = _SPLIT.split(text)
    lines, breaks = parts[0::2], parts[1::2] + [""]
    if lines[-1] == "":  # text that ends with a break (or is empty) has no line after it
        lines.pop()
        breaks.pop()
    return lines, breaks


def newline_of(breaks: list[str]) -> str:
    """The line break new lines get: the file's first one (\\n for a file without any)."""
    return next((b for b in breaks if b), "\n")


def locate(text: str, patch: FilePatch) -> list[Change]:
    """Where each hunk applies in `text`, in order; PatchError names the first hunk not found."""
    lines, _ = split_lines(text)
    changes: list[Change] = []
    position = 0  # hunks apply in order, each after the previous one
    offset = 0  # how far the previous hunk was from where it said (the next one likely moved as much)
    for hunk in patch.hunks:
        # where the hunk says its old lines start (0-based); "-5,0" inserts after line 5
        nominal = hunk.old_start if hunk.old_count == 0 and not hunk.old else hunk.old_start - 1
        said = nominal + offset
        if not hunk.old:  # a pure insertion: at the line it names
            first = min(max(position, said), len(lines))
        else:
            width = len(hunk.old)
            found = [i for i in range(position, len(lines) - width + 1) if tuple(lines[i:i + width]) == hunk.old]
            if not found:
                raise PatchError(_missing(hunk, lines))
            first = min(found, key=lambda i: (abs(i - said), i))
        offset = first - nominal
        changes.append(Change(first, first + len(hunk.old), hunk.new))
        position = first + len(hunk.old)
    return changes


def _missing(hunk: Hunk, lines: list[str]) -> str:
    """Why a hunk is not found, naming the line it expects (a removed one when it has one)."""
    candidates = [line for line in hunk.old if line.strip() and line not in hunk.new] or \
        [line for line in hunk.old if line.strip()] or list(hunk.old)
    expected = candidates[0].strip()
    shown = expected if len(expected) <= 60 else expected[:59] + "…"
    if any(line.strip() == expected for line in lines):
        return f"the hunk at line {hunk.old_start} expects `{shown}` among lines that no longer match the file"
    return f"the hunk at line {hunk.old_start} expects `{shown}`, which is no longer in the file"


def patched(text: str, changes: list[Change]) -> str:
    """The text after the located changes. Untouched lines keep their own line breaks, new lines
    get the file's, and the file ends with a break exactly when it did before (or was empty)."""
    lines, breaks = split_lines(text)
    newline = newline_of(breaks)
    out: list[str] = []
    out_breaks: list[str] = []
    position = 0
    for change in changes:
        out += lines[position:change.first] + list(change.new)
        out_breaks += breaks[position:change.first] + [newline] * len(change.new)
        position = change.last
    out += lines[position:]
    out_breaks += breaks[position:]
    if not out:
        return ""
    out_breaks = [b or newline for b in out_breaks[:-1]] + [out_breaks[-1]]
    ends = not text or bool(breaks and breaks[-1])
    out_breaks[-1] = (out_breaks[-1] or newline) if ends else ""
    return "".join(line + brk for line, brk in zip(out, out_breaks))


def apply_to_text(text: str, diff: str) -> str:
    """The text after the diff (PatchError when it does not apply)."""
    return patched(text, locate(text, parse(diff)))


def target_of(workspace: str | os.PathLike[str], diff: str, path: str | None = None) -> tuple[str, Path]:
    """(workspace-relative path, absolute file) that a patch may change; `path` (the proposal's
    file) wins over the file the diff names."""
    root = Path(workspace).resolve()
    name = path or parse(diff).path
    if not name:
        raise PatchError("the patch does not name a file")
    target = (root / name).resolve()  # an absolute name must lie inside the workspace too
    if target == root or root not in target.parents:
        raise PatchError(f"the patch names {name!r}, outside the workspace")
    relative = target.relative_to(root)
    if ".git" in relative.parts:
        raise PatchError(f"the patch would change {name!r}, inside .git")
    return relative.as_posix(), target


def read_text(target: Path, name: str) -> str:
    """A file's text for patching: it must exist, be small enough, and be UTF-8 text."""
    try:
        if not target.is_file():
            raise PatchError(f"{name} does not exist (companion patches existing files only)")
        if target.stat().st_size > MAX_FILE_BYTES:
            raise PatchError(f"{name} is larger than {MAX_FILE_BYTES // 1_000_000} MB")
        data = target.read_bytes()
    except OSError as exc:
        raise PatchError(f"cannot read {name}: {exc.strerror or exc}") from None
    if b"\0" in data:
        raise PatchError(f"{name} is a binary file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PatchError(f"{name} is not UTF-8 text") from None


def check(workspace: str | os.PathLike[str], diff: str, path: str | None = None) -> CheckedEdit:
    """The patch checked against the file as it is on disk now; writes nothing."""
    name, target = target_of(workspace, diff, path)
    before = read_text(target, name)
    return CheckedEdit(path=name, target=target, before=before, after=apply_to_text(before, diff))


def apply(workspace: str | os.PathLike[str], diff: str, path: str | None = None) -> CheckedEdit:
    """Check, then write the patched file atomically (a temporary file renamed over it, with the
    file's mode kept). Only ever called when the user accepts."""
    edit = check(workspace, diff, path)
    _write(edit.target, edit.after)
    return edit


def undo(edit: CheckedEdit) -> bool:
    """Put the file back as it was before `apply`, if nobody changed it since; True when done."""
    try:
        if edit.target.read_bytes().decode("utf-8") != edit.after:
            return False
    except (OSError, UnicodeDecodeError):
        return False
    _write(edit.target, edit.before)
    return True


def _write(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.companion-tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PatchError(f"cannot write {target.name}: {exc.strerror or exc}") from None
