"""Sentences for the file watcher's events, as ProactiveBench observations read:
"The user saved `api/client.py` (+12 −3 lines), changing `Client.connect` and `retry`."
"""

from __future__ import annotations

from typing import Any, Mapping

from companion.render import code, listing, plural, renderer

_SKIPPED = {
    "secret": "a secret file, not read",
    "binary": "binary",
    "too large": "too large to read",
    "unreadable": "could not be read",
    "symlink": "a symbolic link",
    "not a regular file": "not a regular file",
}


def _size(data: Mapping[str, Any]) -> str:
    size = data.get("size")
    if not isinstance(size, int):
        return ""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    return ""


def _skipped(data: Mapping[str, Any]) -> str:
    reason = data.get("content_skipped")
    if not reason:
        return ""
    text = _SKIPPED.get(str(reason), str(reason))
    if reason == "symlink" and data.get("symlink_to"):
        text += f" to {code(data['symlink_to'], 60)}"
        if data.get("symlink_loop"):
            text += " that loops"
        elif data.get("dangling"):
            text += " that points nowhere"
    size = _size(data) if reason in ("binary", "too large", "secret") else ""
    return f" ({text}{', ' + size if size else ''})"


def _what_changed(data: Mapping[str, Any]) -> str:
    parts = []
    symbols = list(data.get("symbols") or [])
    hunks = list(data.get("hunks") or [])
    if symbols:
        parts.append(f", changing {listing(symbols)}")
    elif hunks and not str(data.get("path", "")).endswith((".py", ".pyi")):
        contexts = [h.split("@@", 2)[2].strip() for h in hunks if h.count("@@") >= 2]
        contexts = [c for c in dict.fromkeys(contexts) if c]
        where = f" near {listing(contexts, 2)}" if contexts else ""
        parts.append(f" in {plural(len(hunks), 'place')}{where}")
    todos = list(data.get("todos_added") or [])
    if todos:
        parts.append(f"; it adds {listing(todos, 2)}")
    if data.get("syntax_error"):
        parts.append("; the file does not parse")
    return "".join(parts)


@renderer("file.saved")
def _saved(data: Mapping[str, Any]) -> str:
    path = code(data["path"])
    skipped = _skipped(data)
    if skipped:
        return f"The user saved {path}{skipped}."
    if "lines_added" not in data:
        return f"The user saved {path} ({plural(int(data.get('lines', 0)), 'line')}; its previous version is unknown)."
    added, removed = int(data["lines_added"]), int(data["lines_removed"])
    if not added and not removed:
        return f"The user saved {path} without changes."
    often = f" It was saved {plural(int(data['unreported_saves']) + 1, 'time')} since the last report." \
        if data.get("unreported_saves") else ""
    return f"The user saved {path} (+{added} −{removed} lines){_what_changed(data)}.{often}"


@renderer("file.created")
def _created(data: Mapping[str, Any]) -> str:
    path = code(data["path"])
    if data.get("is_dir"):
        files = int(data.get("files", 0))
        return f"The user created the folder {path}" + (f" with {plural(files, 'file')}." if files else ".")
    skipped = _skipped(data)
    if skipped:
        return f"The user created {path}{skipped}."
    lines = int(data.get("lines", 0))
    defines = list(data.get("symbols") or [])
    detail = f", defining {listing(defines)}" if defines else ""
    todos = list(data.get("todos_added") or [])
    extra = f"; it has {listing(todos, 2)}" if todos else ""
    return f"The user created {path} ({plural(lines, 'line')}){detail}{extra}."


@renderer("file.deleted")
def _deleted(data: Mapping[str, Any]) -> str:
    path = code(data["path"])
    if data.get("is_dir"):
        files = int(data.get("files", 0))
        return f"The user deleted the folder {path}" + (f" and its {plural(files, 'file')}." if files else ".")
    return f"The user deleted {path}."


@renderer("file.moved")
def _moved(data: Mapping[str, Any]) -> str:
    what = "the folder " if data.get("is_dir") else ""
    return f"The user moved {what}{code(data['old_path'])} to {code(data['path'])}."


@renderer("file.bulk")
def _bulk(data: Mapping[str, Any]) -> str:
    parts = [f"{int(data[kind]):,} {kind}" for kind in ("saved", "created", "deleted", "moved") if data.get(kind)]
    folders = [f for f in data.get("folders") or [] if f != "."]
    where = f", mostly in {listing(folders, 3)}" if folders else ""
    return f"{int(data['total']):,} files changed at once ({', '.join(parts)}){where}."
