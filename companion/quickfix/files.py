"""A path that is not there or may not be used: "No such file or directory" (with the closest path
that exists), "Permission denied" (a script without its execute bit, or a file the user may not read)."""

from __future__ import annotations

import difflib
import os
import re
import stat
from pathlib import Path
from typing import Iterator

from companion.quickfix.base import Candidate, Moment, rule

MISSING = re.compile(r"(?:can't open file '(?P<a>[^']+)'|No such file or directory: '(?P<b>[^']+)'"
                     r"|^(?:[\w.-]+: )*(?:cannot (?:access|stat|open) )?'?(?P<c>[^\s:']+)'?: No such file or directory"
                     r"|ENOENT: no such file or directory, \w+ '(?P<d>[^']+)')", re.MULTILINE)
DENIED = re.compile(r"(?:Permission denied: '(?P<a>[^']+)'|^(?:[\w.-]+: )*(?:line \d+: )?(?P<b>[^\s:']+): Permission denied"
                    r"|EACCES: permission denied, \w+ '(?P<c>[^']+)')", re.MULTILINE)
MAX_SCAN = 5000


def _first(match: re.Match[str]) -> str:
    return next((g for g in match.groups() if g), "")


def closest_path(moment: Moment, missing: str) -> Path | None:
    """The existing path most like `missing`: walk up to the first folder that exists, then match
    each remaining part against that folder's entries."""
    target = Path(missing) if Path(missing).is_absolute() else moment.cwd / missing
    parts: list[str] = []
    folder = target
    while not folder.exists():
        parts.insert(0, folder.name)
        if folder.parent == folder:
            return None
        folder = folder.parent
    if not folder.is_dir() or not parts:
        return None
    for part in parts:
        try:
            names = [e.name for e, _ in zip(os.scandir(folder), range(MAX_SCAN))]
        except OSError:
            return None
        match = difflib.get_close_matches(part, names, n=1, cutoff=0.6)
        if not match:
            return None
        folder = folder / match[0]
    return folder if folder.exists() else None


def _shown(path: Path, moment: Moment, like: str) -> str:
    if Path(like).is_absolute():
        return str(path)
    try:
        return os.path.relpath(path, moment.cwd)
    except ValueError:
        return str(path)


@rule("files.no_such_file")
def no_such_file(moment: Moment) -> Iterator[Candidate]:
    """No such file or directory: the closest existing path, in the command when the path is there."""
    for match in MISSING.finditer(moment.texts):
        missing = _first(match)
        if not missing or len(missing) > 500:
            continue
        if Path(missing).is_absolute() and missing not in moment.command:
            relative = os.path.relpath(missing, moment.cwd)
            missing = relative if relative in moment.command else missing
        found = closest_path(moment, missing)
        if found is None:
            continue
        shown = _shown(found, moment, missing)
        why = {"output_lines": [match.group(0).strip()[:300]], "missing": missing, "closest": shown}
        if missing in moment.command:
            fixed = moment.command.replace(missing, shown, 1)
            yield Candidate("", f"Run `{fixed[:80]}` ({missing} does not exist; {shown} does)", "run_command",
                            response=fixed, path=moment.relative(found), evidence={**why, "command": moment.command},
                            confidence=0.75)
        else:
            yield Candidate("", f"{missing} does not exist; did you mean {shown}?", "explain",
                            response=f"`{missing}` does not exist. The closest existing path is `{shown}`.",
                            path=moment.relative(found), evidence=why, confidence=0.55)
        return


@rule("files.permission_denied")
def permission_denied(moment: Moment) -> Iterator[Candidate]:
    """Permission denied: chmod +x for a script the user ran, else who owns the file and its mode."""
    for match in DENIED.finditer(moment.texts):
        named = _first(match)
        target = Path(named) if Path(named).is_absolute() else moment.cwd / named
        try:
            info = target.stat()
        except (OSError, ValueError):
            continue
        why = {"output_lines": [match.group(0).strip()[:300]], "path": named, "mode": stat.filemode(info.st_mode)}
        ran = moment.argv[0] if moment.argv else ""
        if target.is_file() and not info.st_mode & stat.S_IXUSR and ran and Path(moment.cwd / ran).resolve() == target.resolve():
            yield Candidate("", f"Make {named} executable, then run it", "run_command",
                            response=f"chmod +x {named} && {moment.command}", path=moment.relative(target),
                            evidence=why, confidence=0.85)
            return
        try:
            import pwd

            owner = pwd.getpwuid(info.st_uid).pw_name
        except (ImportError, KeyError):
            owner = str(info.st_uid)
        yield Candidate("", f"{named} is not accessible ({stat.filemode(info.st_mode)}, owned by {owner})", "explain",
                        response=f"`{named}` has mode {stat.filemode(info.st_mode)} and belongs to {owner}; "
                                 "this user may not use it that way. Change its mode or owner, or use a copy you own.",
                        path=moment.relative(target), evidence={**why, "owner": owner}, confidence=0.5)
        return
