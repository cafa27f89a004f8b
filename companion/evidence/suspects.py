"""The prime suspects of a failure: the hunks changed since the last green run, with path:line.

Each changed file (companion.evidence.snapshots.Changed) becomes unified-diff hunks with 3 lines
of context (difflib, as `git diff` shows them), newest file first. A suspect is the contract's
dict: path, line (the first changed line in the current file), old/new start and count, the
removed and added lines, the hunk text (usable for a revert) and when the file was saved.
Files without text on one side (binary, too large, secret, deleted) are listed as changed
without hunks, so the evidence still names them. Hunks measured from the committed version
(the snapshot kept no copy of the run: companion.evidence.snapshots) say `since: "commit"`.

Bounds: MAX_SUSPECTS hunks in all, MAX_PER_FILE per file, MAX_LINES removed/added lines each,
every listed line cut to MAX_LINE_CHARS. The hunk text is exact, or cut visibly (a last line
"… (hunk cut)") past MAX_HUNK_LINES lines or MAX_HUNK_CHARS characters. A suspect is not usable
for a revert when it says `truncated` (something was cut) or `redacted` (its old lines hold a
redaction placeholder: the file's real text is not known, and writing it back would be wrong).
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable

from companion.evidence.snapshots import Changed

MAX_SUSPECTS = 12
MAX_PER_FILE = 4
MAX_LINES = 20
MAX_LINE_CHARS = 240
CONTEXT = 3
MAX_HUNK_LINES = 2 * MAX_LINES + 2 * CONTEXT
MAX_HUNK_CHARS = 8000
REDACTED = "[REDACTED"  # companion.redact's placeholder


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"


def _range(start: int, count: int) -> str:
    """Unified-diff range: a zero-length range names the line before it, as diff does."""
    return f"{start if count else max(0, start - 1)},{count}"


def file_hunks(old: str, new: str, path: str, saved_ts: float, limit: int = MAX_PER_FILE) -> list[dict[str, Any]]:
    """The hunks turning `old` into `new`, as suspect dicts."""
    old_lines = old.splitlines()
    new_lines = new.splitlines()
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=len(old_lines) > 2000)
    hunks: list[dict[str, Any]] = []
    for group in matcher.get_grouped_opcodes(CONTEXT):
        if len(hunks) >= limit:
            break
        a0, a1, b0, b1 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        removed: list[str] = []
        added: list[str] = []
        body: list[str] = []
        first_new: int | None = None
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                body.extend(" " + line for line in old_lines[i1:i2])
                continue
            if first_new is None:
                first_new = j1 + 1
            removed.extend(old_lines[i1:i2])
            added.extend(new_lines[j1:j2])
            body.extend("-" + line for line in old_lines[i1:i2])
            body.extend("+" + line for line in new_lines[j1:j2])
        header = f"@@ -{_range(a0 + 1, a1 - a0)} +{_range(b0 + 1, b1 - b0)} @@"
        # the hunk text is exact (a revert writes it back) or visibly cut, never cut silently
        truncated = len(body) > MAX_HUNK_LINES or sum(len(line) + 1 for line in body) > MAX_HUNK_CHARS
        if truncated:
            body = [_cut(line) for line in body[:MAX_HUNK_LINES]] + ["… (hunk cut)"]
        suspect: dict[str, Any] = {
            "path": path, "line": max(1, min(first_new or 1, max(1, len(new_lines)))),
            "old_start": a0 + 1, "old_count": a1 - a0, "new_start": b0 + 1, "new_count": b1 - b0,
            "removed": [_cut(line) for line in removed[:MAX_LINES]], "added": [_cut(line) for line in added[:MAX_LINES]],
            "hunk": "\n".join([header, *body]), "saved_ts": saved_ts,
        }
        if truncated or len(removed) > MAX_LINES or len(added) > MAX_LINES \
                or any(len(line) > MAX_LINE_CHARS for line in removed + added):
            suspect["truncated"] = True
        if any(REDACTED in line for line in removed):
            suspect["redacted"] = True  # the old text holds a placeholder: writing it back would lose the secret
        hunks.append(suspect)
    return hunks


def suspects(changes: Iterable[Changed], limit: int = MAX_SUSPECTS) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(suspect hunks newest first, changed files without hunks: {path, note, saved_ts})."""
    found: list[dict[str, Any]] = []
    unread: list[dict[str, Any]] = []
    for change in sorted(changes, key=lambda c: -c.saved_ts):
        if change.old is None or change.new is None:
            unread.append({"path": change.path, "note": change.note or "changed", "saved_ts": change.saved_ts})
            continue
        if len(found) >= limit:
            unread.append({"path": change.path, "note": "more changes", "saved_ts": change.saved_ts})
            continue
        hunks = file_hunks(change.old, change.new, change.path, change.saved_ts, min(MAX_PER_FILE, limit - len(found)))
        if change.note == "created":
            for hunk in hunks:
                hunk["created"] = True
        elif change.note == "since the commit":  # no copy of the run was kept: measured from HEAD
            for hunk in hunks:
                hunk["since"] = "commit"
        found.extend(hunks)
    return found, unread[:MAX_SUSPECTS]
