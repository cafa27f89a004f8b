"""Command not found (exit 127): the closest command the user has — their own history first, then
aliases in their shell rc files, then the executables on PATH (`gti status` → `git status`)."""

from __future__ import annotations

import difflib
import os
import re
import time
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from companion.quickfix.base import Candidate, Moment, rule

NOT_FOUND = re.compile(r"(?:^|\s)(?:(?P<a>[^\s:]+): command not found|command not found: (?P<b>\S+)"
                       r"|Unknown command:? '?(?P<c>[^\s']+)'?|'(?P<d>[^']+)' is not recognized as)", re.MULTILINE)
ALIAS = re.compile(r"^\s*alias\s+(?:-- )?([\w.:-]+)[=\s]", re.MULTILINE)
RC_FILES = (".bashrc", ".bash_aliases", ".zshrc", ".config/fish/config.fish", ".bash_profile", ".profile")
MAX_PATH_NAMES = 20_000


PATH_CACHE_S = 60.0
_path_cache: dict[str, tuple[float, frozenset[str]]] = {}


def path_commands(environ: Mapping[str, str]) -> frozenset[str]:
    """The executables on PATH (listed at most once a minute for the same PATH)."""
    path = str(environ.get("PATH", ""))
    cached = _path_cache.get(path)
    if cached is not None and time.monotonic() - cached[0] < PATH_CACHE_S:
        return cached[1]
    names = frozenset(_list_path(path))
    _path_cache.clear()
    _path_cache[path] = (time.monotonic(), names)
    return names


def _list_path(path: str) -> set[str]:
    names: set[str] = set()
    for folder in path.split(os.pathsep):
        try:
            with os.scandir(folder or ".") as entries:
                for entry in entries:
                    if len(names) > MAX_PATH_NAMES:
                        return names
                    if entry.is_file() and os.access(entry.path, os.X_OK):
                        names.add(entry.name)
        except OSError:
            continue
    return names


def aliases(home: Path) -> set[str]:
    found: set[str] = set()
    for name in RC_FILES:
        try:
            found.update(ALIAS.findall((home / name).read_text(encoding="utf-8", errors="replace")[:200_000]))
        except OSError:
            continue
    return found


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
    neighbours (`gti` → `git` is one edit, as a typist sees it)."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        rows[i][0] = i
    for j in range(len(b) + 1):
        rows[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[-1][-1]


def closest(word: str, pools: Iterable[Iterable[str]]) -> str | None:
    """The closest name within a typo's reach (1 edit for short words, 2 from 6 letters), trying each
    pool in turn (the user's own history before aliases before PATH); ties go to the likelier name."""
    reach = 1 if len(word) < 6 else 2
    for pool in pools:
        names = {n for n in pool if n and n != word and abs(len(n) - len(word)) <= reach}
        scored = [(edit_distance(word, n), -difflib.SequenceMatcher(None, word, n).ratio(), len(n), n) for n in names]
        scored = [s for s in scored if s[0] <= reach]
        if scored:
            return min(scored)[3]
    return None


@rule("commands.not_found")
def command_not_found(moment: Moment) -> Iterator[Candidate]:
    """exit 127 or "command not found": the command with its first word corrected."""
    argv = moment.argv
    found = NOT_FOUND.search(moment.output)
    word = next((g for g in found.groups() if g), "") if found else ""
    if not word and moment.exit_code == 127 and argv:
        word = argv[0]
    if not word or word not in moment.command or "/" in word:
        return  # a path that does not exist is the files rule's
    history = [c.split()[0] for c in moment.commands_run(succeeded=True) if c.split()]
    home = Path(moment.environ.get("HOME") or Path.home())
    fix = closest(os.path.basename(word), [history, aliases(home), path_commands(moment.environ)])
    if fix is None:
        return
    fixed = moment.command.replace(word, fix, 1)
    line = found.group(0).strip() if found else f"exit 127: {word}"
    yield Candidate("", f"Run `{fixed[:80]}` ({word} → {fix})", "run_command", response=fixed,
                    evidence={"output_lines": [line], "command": moment.command, "closest": fix},
                    confidence=0.8 if fix in history else 0.7)
