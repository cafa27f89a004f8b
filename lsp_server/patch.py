"""Turn an `edit` proposal's unified diff into LSP text edits against the editor's buffer.

The agent validates that its diff applies to the file on disk, but the user may have typed
since: each hunk is located where it says, or nearby (the same lines shifted), and the whole
patch is refused when any hunk's old lines are not found. The editor applies the edits
(`workspace/applyEdit`), so its undo history holds the change like any other edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lsprotocol import types

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
MAX_SHIFT = 200  # how far a hunk may have moved since the diff was made


class PatchError(ValueError):
    """The diff cannot be read, or does not match the text it should change."""


@dataclass
class Hunk:
    old_start: int  # 1-based, as in the header
    old: list[str] = field(default_factory=list)  # context and removed lines, without newlines
    new: list[str] = field(default_factory=list)  # context and added lines


def parse_hunks(diff: str) -> list[Hunk]:
    """The hunks of a unified diff for one file (file headers and git extras are skipped)."""
    hunks: list[Hunk] = []
    current: Hunk | None = None
    for line in diff.splitlines():
        match = HUNK_HEADER.match(line)
        if match:
            current = Hunk(old_start=int(match.group(1)))
            hunks.append(current)
            continue
        if current is None or line.startswith(("--- ", "+++ ", "diff ", "index ")):
            continue
        if line.startswith("\\"):
            continue  # "\ No newline at end of file"
        tag, text = (line[0], line[1:]) if line else (" ", "")
        if tag == " ":
            current.old.append(text)
            current.new.append(text)
        elif tag == "-":
            current.old.append(text)
        elif tag == "+":
            current.new.append(text)
        else:
            current = None  # text after the diff, e.g. an explanation the model appended
    if not hunks:
        raise PatchError("the proposal's response holds no unified diff hunk (@@ -a,b +c,d @@)")
    return hunks


def _locate(lines: list[str], hunk: Hunk) -> int:
    """The 0-based line where the hunk's old lines start in `lines`, searching outwards."""
    want = hunk.old
    start = max(0, hunk.old_start - 1) if want else min(len(lines), hunk.old_start)
    if not want:
        return start
    for shift in range(MAX_SHIFT + 1):
        for candidate in {start - shift, start + shift}:
            if 0 <= candidate <= len(lines) - len(want) and lines[candidate:candidate + len(want)] == want:
                return candidate
    raise PatchError(f"the lines of the hunk at line {hunk.old_start} are no longer in the file")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def text_edits(text: str, diff: str) -> list[types.TextEdit]:
    """One TextEdit per hunk, all positioned against `text` as it is now."""
    lines = text.splitlines()
    ends_with_newline = text.endswith(("\n", "\r")) or not text  # nothing to keep unterminated
    edits: list[types.TextEdit] = []
    taken: list[tuple[int, int]] = []
    for hunk in parse_hunks(diff):
        first = _locate(lines, hunk)
        last = first + len(hunk.old)  # exclusive
        if any(first < b and a < last for a, b in taken):
            raise PatchError("two hunks of the diff change the same lines")
        taken.append((first, last))
        new_text = "".join(line + "\n" for line in hunk.new)
        if last < len(lines) or ends_with_newline:
            end = types.Position(line=last, character=0)
        else:  # the hunk reaches the last line, which has no newline: keep it that way
            end = types.Position(line=len(lines) - 1, character=_utf16_len(lines[-1]))
            new_text = new_text[:-1] if new_text.endswith("\n") else new_text
            if first == len(lines) and hunk.new:  # pure addition after a last line without newline
                new_text = "\n" + new_text
        start = types.Position(line=first, character=0) if first < len(lines) or ends_with_newline or not lines \
            else types.Position(line=len(lines) - 1, character=_utf16_len(lines[-1]))
        edits.append(types.TextEdit(range=types.Range(start=start, end=end), new_text=new_text))
    return edits
