"""What a save changed: lines added and removed, and where.

The engine needs more than "a file was saved": which functions were touched, whether a TODO
appeared, how big the edit was. For Python the touched definitions come from `ast` (changed
lines mapped to the innermost enclosing def or class, methods named `Class.method`); for any
other text they are the diff's hunk headers, with the nearest preceding "function line" the way
`git diff` shows it (`@@ -10,3 +10,4 @@ def connect(self):`).

Reading a file is decided here too: secret files by name are never opened, binary files (a NUL
byte, or mostly undecodable bytes) and files over the size limit give no content, and text with
a few invalid UTF-8 bytes is decoded with replacement characters rather than refused.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass
from typing import Any

from companion.evidence.text import decode

MAX_HUNKS = 20
MAX_NAMES = 20
MAX_TODOS = 10
_TODO = re.compile(r"\b(TODO|FIXME|XXX|HACK)\b[:(]?.*")
_FUNCNAME = re.compile(r"^[A-Za-z_$]")  # git's default "function line": starts with a letter, _ or $


@dataclass
class FileText:
    """A file's content as the watcher read it, or why it has none."""

    text: str | None
    size: int
    skipped: str | None = None  # "secret" | "binary" | "too large" | "unreadable" | "symlink"
    encoding_errors: bool = False


def read_text(path: str, max_bytes: int) -> FileText:
    """Read a file for diffing, never more than max_bytes (plus one byte to tell it is larger)."""
    with open(path, "rb") as handle:
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:
        import os

        return FileText(None, os.path.getsize(path), "too large")
    text, bad = decode(raw)
    if text is None:
        return FileText(None, len(raw), "binary")
    return FileText(text, len(raw), encoding_errors=bad)


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a blank, never inside a word: a key cut in two
    reaches redaction as a piece too short to recognise, and half of it would stay readable. A
    first word longer than the limit is kept whole up to 4 times the limit, else dropped."""
    if len(text) <= limit:
        return text
    blank = text.rfind(" ", 0, limit + 1)
    if blank > 0:
        return text[:blank].rstrip()
    end = text.find(" ")
    first = text if end < 0 else text[:end]
    return first if len(first) <= 4 * limit else ""


def _function_line(lines: list[str], before: int) -> str:
    """The nearest line above index `before` that git would show as the hunk's function context."""
    for index in range(min(before, len(lines)) - 1, -1, -1):
        if _FUNCNAME.match(lines[index]):
            return clip(lines[index].strip(), 80)
    return ""


def _python_definitions(text: str) -> list[tuple[int, int, str]] | None:
    """(first line, last line, qualified name) of every def and class; None when it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    found: list[tuple[int, int, str]] = []
    lines = text.splitlines()

    def body_end(node: ast.stmt) -> int:
        """The node's last line, plus indented comment lines that follow it (ast leaves them out)."""
        last = end = node.end_lineno or node.lineno
        while end < len(lines):
            line = lines[end]
            if line.strip():
                if len(line) - len(line.lstrip()) <= node.col_offset:
                    break
                last = end + 1
            end += 1
        return last

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                found.append((first, body_end(child), name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _innermost(definitions: list[tuple[int, int, str]], line: int) -> str | None:
    best: tuple[int, int, str] | None = None
    for first, last, name in definitions:
        if first <= line <= last and (best is None or first >= best[0]):
            best = (first, last, name)
    return best[2] if best else None


def _touched(definitions: list[tuple[int, int, str]] | None, lines: list[int], text: list[str],
             names: list[str]) -> None:
    """Add the innermost definition around each changed line; blank lines between definitions do not count."""
    if definitions is None:
        return
    for line in lines:
        if not text[line - 1].strip():
            continue
        name = _innermost(definitions, line)
        if name and name not in names:
            names.append(name)


def summarize(old: str | None, new: str, path: str) -> dict[str, Any]:
    """The change from `old` to `new`: counts, touched definitions or hunk headers, TODOs added.

    `old` None means the previous version is unknown: only the size of the new text is given."""
    new_lines = new.splitlines()
    summary: dict[str, Any] = {"lines": len(new_lines)}
    if old is None:
        return summary
    old_lines = old.splitlines()
    # autojunk: lines repeated in over 1% of a long file (blank lines, `return x`) are not used as
    # anchors, which keeps big files fast (quadratic otherwise) and barely changes the result
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=True)
    added: list[int] = []  # 1-based line numbers in the new text
    removed: list[int] = []  # 1-based line numbers in the old text
    hunks: list[str] = []
    todos: list[str] = []
    old_todos = {m.group(0).strip() for line in old_lines for m in [_TODO.search(line)] if m}
    for group in matcher.get_grouped_opcodes(3):
        first, last = group[0], group[-1]
        a0, a1, b0, b1 = first[1], last[2], first[3], last[4]
        header = f"@@ -{a0 + 1},{a1 - a0} +{b0 + 1},{b1 - b0} @@"
        context = _function_line(old_lines, a0)
        if len(hunks) < MAX_HUNKS:
            hunks.append(f"{header} {context}".rstrip())
        for tag, i1, i2, j1, j2 in group:
            if tag in ("replace", "delete"):
                removed.extend(range(i1 + 1, i2 + 1))
            if tag in ("replace", "insert"):
                added.extend(range(j1 + 1, j2 + 1))
                for line in new_lines[j1:j2]:
                    match = _TODO.search(line)
                    if match and match.group(0).strip() not in old_todos and len(todos) < MAX_TODOS:
                        todos.append(clip(match.group(0).strip(), 200))
    summary.update(lines_added=len(added), lines_removed=len(removed), hunks=hunks)
    if len(hunks) == MAX_HUNKS:
        summary["hunks_truncated"] = True
    if todos:
        summary["todos_added"] = todos
    if path.endswith((".py", ".pyi")):
        names: list[str] = []
        new_defs = _python_definitions(new)
        _touched(new_defs, added, new_lines, names)
        _touched(_python_definitions(old), removed, old_lines, names)
        if new_defs is None:
            summary["syntax_error"] = True
        summary["symbols"] = names[:MAX_NAMES]
    return summary
