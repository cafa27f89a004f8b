"""Turn an `edit` proposal's unified diff into LSP text edits against the editor's buffer.

The agent validates that its diff applies to the file on disk, but the user may have typed
since: each hunk is located where it says, or nearby (the same lines shifted), and the whole
patch is refused when any hunk's old lines are not found. The editor applies the edits
(`workspace/applyEdit`), so its undo history holds the change like any other edit.
"""

from __future__ import annotations

from lsprotocol import types

from companion.agent.patch import Hunk, PatchError, parse_diff

__all__ = ["Hunk", "PatchError", "parse_hunks", "text_edits"]

MAX_SHIFT = 200  # how far a hunk may have moved since the diff was made


def parse_hunks(diff: str) -> list[Hunk]:
    """The hunks of a unified diff for one file, read by the agent's own parser (one reader of
    the agent's diffs, so the editor and the daemon agree on what a proposal changes)."""
    return parse_diff(diff).hunks


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
