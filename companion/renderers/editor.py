"""Sentences for what the developer does in an editor (`editor.*`, reported by `companion lsp`).

Editors report where and how much, never the text, so the sentences say which file and which
lines: "The user edited `src/app.py` in the editor: 6 changes around lines 10-24 (+3/-1 lines)."
"""

from __future__ import annotations

from typing import Any, Mapping

from companion.render import code, plural, renderer


def _lines(ranges: Any) -> str:
    spans = [f"{a}" if a == b else f"{a}-{b}" for a, b in list(ranges)[:3]]
    if not spans:
        return ""
    more = len(list(ranges)) - len(spans)
    return " around line" + ("s " if len(spans) > 1 or "-" in spans[0] else " ") + ", ".join(spans) + \
        (f" and {more} more places" if more > 0 else "")


@renderer("editor.opened")
def _opened(data: Mapping[str, Any]) -> str:
    size = f" ({plural(int(data['lines']), 'line')})" if data.get("lines") is not None else ""
    return f"The user opened {code(data['path'])} in the editor{size}."


@renderer("editor.saved")
def _saved(data: Mapping[str, Any]) -> str:
    return f"The user saved {code(data['path'])} in the editor."


@renderer("editor.closed")
def _closed(data: Mapping[str, Any]) -> str:
    return f"The user closed {code(data['path'])} in the editor."


@renderer("editor.focused")
def _focused(data: Mapping[str, Any]) -> str:
    return f"The user switched to {code(data['path'])} in the editor."


@renderer("editor.window")
def _window(data: Mapping[str, Any]) -> str:
    return "The user came back to the editor." if data.get("focused") else "The user left the editor window."


@renderer("editor.edited")
def _edited(data: Mapping[str, Any]) -> str:
    changes = int(data.get("changes", 1))
    added, removed = int(data.get("lines_added", 0)), int(data.get("lines_removed", 0))
    balance = f" (+{added}/-{removed} lines)" if added or removed else ""
    return f"The user edited {code(data['path'])} in the editor: {plural(changes, 'change')}{_lines(data.get('ranges', []))}{balance}."
