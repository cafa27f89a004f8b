"""A regression since the last green run: rank the suspect hunks (evidence.suspects) by how well they
match the failure, then offer an `edit` that reverts the best one (only if it applies to the file
as it is now) and an `open` at its line. The failing assertion is the "why".

Ranking, strongest first: the failure's traceback names a line inside (or within 3 lines of) the
hunk; the traceback or output names the file; the failing test's module matches the file's name
(`tests/test_parser.py` ↔ `src/pkg/_parser.py`) or imports it (`from tabulate import …` for
`tabulate/__init__.py`, `import more_itertools` for `more_itertools/recipes.py`); the newest change.
A hunk that only adds, removes or edits comment lines and blank lines (see `comment_only`) cannot
have broken the run: it ranks below every hunk that changes code and is never offered as a revert.
"""

from __future__ import annotations

import os
import posixpath
import re
import subprocess
from typing import Any, Iterator

from companion.evidence.suspects import file_hunks
from companion.quickfix.base import Candidate, Moment, rule
from companion.quickfix.tracebacks import PATH_LINE, PY_FRAME, last_error_line

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@.*$")
NEAR_LINES = 3
COMMENT_PENALTY = 100.0  # a comment-only hunk ranks below any hunk that changes code
HASH_COMMENTS = {".py", ".pyi", ".sh", ".bash", ".zsh", ".rb", ".toml", ".yaml", ".yml", ".cfg"}
# C family: `#` is the preprocessor there, never a comment
SLASH_COMMENTS = {".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh",
                  ".java", ".go", ".rs", ".cs", ".kt", ".kts", ".swift"}
# comments that do something: encoding and magic comments, shebangs, linter and type checker
# switches, build constraints and compiler directives (Go's `//go:`, `// +build`)
DIRECTIVE = re.compile(r"^#!|coding[:=]|-\*-|frozen_string_literal|noqa|type:\s*ignore|pragma|pylint:|mypy:|pyright:|"
                       r"ruff:|fmt:|isort:|shellcheck|eslint|@ts-|prettier-ignore|istanbul|\bc8\b|NOLINT|clang-format|"
                       r"^//\s*\+build|^//go:|^//line |sourceMappingURL|jshint|tslint|@flow|@jsx", re.IGNORECASE)


def _stem(path: str) -> str:
    name = posixpath.splitext(posixpath.basename(str(path).replace("\\", "/")))[0].lower()
    for prefix in ("test_", "tests_"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    for suffix in ("_test", "_tests", ".test", ".spec"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name.strip("_")


def _locations(moment: Moment) -> list[tuple[str, int]]:
    found = []
    for text in [moment.output] + [str(f.get("traceback") or "") for f in moment.failures]:
        for pattern in (PY_FRAME, PATH_LINE):
            for match in pattern.finditer(text):
                found.append((match.group("path").replace("\\", "/"), int(match.group("line"))))
    for failure in moment.failures:
        if failure.get("path") and isinstance(failure.get("line"), int):
            found.append((str(failure["path"]), int(failure["line"])))
    return found


def _same_file(named: str, suspect: str) -> bool:
    named, suspect = named.lstrip("./"), suspect.lstrip("./")
    return named == suspect or named.endswith("/" + suspect) or suspect.endswith("/" + named)


def _span(suspect: dict[str, Any]) -> tuple[int, int]:
    start = int(suspect.get("new_start") or suspect.get("line") or 0)
    count = int(suspect.get("new_count") or 0)
    return start, start + max(count, 1) - 1


def _hash_comment(line: str) -> bool:
    text = line.strip()
    return not text or (text.startswith("#") and not DIRECTIVE.search(text))


def _slash_side(lines: list[tuple[bool, str]], rust: bool) -> bool:
    """One side of a hunk, (changed?, line) in order: whether every changed line is blank or a
    comment (`//`, or a `/* … */` block opened inside the hunk: one opened above it is unknown)."""
    inside = False
    for changed, line in lines:
        text = line.strip()
        comment = False
        if inside:
            comment = True
            if "*/" in text:
                inside = False
                comment = not text.split("*/", 1)[1].strip()  # `*/ int x;` is code
        elif not text:
            comment = True
        elif text.startswith("//"):
            comment = not (rust and text.startswith(("///", "//!")))  # Rust doc comments hold doctests
        elif text.startswith("/*"):
            rest = text[2:]
            if "*/" in rest:
                comment = not rest.split("*/", 1)[1].strip()
            else:
                inside = comment = True
        if changed and (not comment or (text and DIRECTIVE.search(text))):
            return False
    return True


def python_comment_lines(source: str) -> set[int]:
    """The 1-based lines of Python `source` that hold only a comment or nothing (by Python's own
    tokenizer, so a `#` inside a string is not a comment); empty when it does not tokenize."""
    import io
    import tokenize

    code: set[int] = set()
    comments: set[int] = set()
    skip = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments.add(token.start[0])
            elif token.type not in skip:
                code.update(range(token.start[0], token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError, ValueError):
        return set()
    return comments - code


def _added_python_comments(body: list[str], source: str) -> bool:
    """Whether a hunk that only adds lines adds comment or blank lines of the saved file `source`
    (its new side, numbered from the hunk header; the file must still hold them there)."""
    header = HUNK_HEADER.match(body[0])
    if header is None or any(line[:1] == "-" for line in body[1:]):
        return False
    lines = source.splitlines()
    quiet = python_comment_lines(source)
    number = int(header.group(3))
    for line in body[1:]:
        if line[:1] not in (" ", "+"):
            continue
        if line[:1] == "+":
            text = line[1:]
            if number > len(lines) or lines[number - 1] != text or (text.strip() and number not in quiet):
                return False
        number += 1
    return True


def comment_only(suspect: dict[str, Any], source: str | None = None) -> bool:
    """Whether a suspect hunk only adds, removes or edits comment lines and blank lines, for the
    file types whose comments are known: `#` (.py, .sh, .rb, .toml, .yaml, .cfg, …) or `//` and
    `/* */` (.js, .ts, .c, .cpp, .h, .java, .go, .rs, .cs, .kt, .swift, …). Comments that act
    (DIRECTIVE) and cut hunks are not. A Python hunk near a triple-quoted string (the `#` may be
    inside it) is one only when it merely adds lines and Python's tokenizer, run on the saved file
    (`source`), finds each a comment."""
    if suspect.get("truncated"):
        return False
    ext = posixpath.splitext(str(suspect.get("path") or ""))[1].lower()
    if ext not in HASH_COMMENTS and ext not in SLASH_COMMENTS:
        return False
    body = str(suspect.get("hunk") or "").splitlines()
    if body and HUNK_HEADER.match(body[0]):
        old = [(line[:1] == "-", line[1:]) for line in body[1:] if line[:1] in (" ", "-")]
        new = [(line[:1] == "+", line[1:]) for line in body[1:] if line[:1] in (" ", "+")]
    else:
        old = [(True, str(line)) for line in suspect.get("removed") or []]
        new = [(True, str(line)) for line in suspect.get("added") or []]
    if not any(changed for changed, _line in old + new):
        return False
    if ext in HASH_COMMENTS:
        if ext in (".py", ".pyi") and any('"""' in line or "'''" in line for _changed, line in old + new):
            if source is None or not (body and HUNK_HEADER.match(body[0])) or DIRECTIVE.search("\n".join(
                    line for changed, line in new if changed)):
                return False
            return _added_python_comments(body, source)
        return all(_hash_comment(line) for changed, line in old + new if changed)
    return _slash_side(old, ext == ".rs") and _slash_side(new, ext == ".rs")


MAX_FALLBACK_FILES = 20
MAX_FALLBACK_BYTES = 1_000_000


def _git(moment: Moment, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=moment.workspace, capture_output=True, text=True, timeout=3,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}, errors="replace")
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def uncommitted_suspects(moment: Moment) -> list[dict[str, Any]]:
    """Without a green run to compare against (a new daemon, a command never seen passing), the
    uncommitted changes of the tracked files are the suspects: `git diff HEAD`, read-only, as hunks
    of the evidence contract (marked `since: "commit"`). Files saved just before come first."""
    listed = _git(moment, "diff", "--name-only", "--relative", "HEAD", "--")
    if not listed:
        return []
    changed = [p for p in listed.splitlines() if p]
    saved = [str(e.data.get("path") or "") for e in reversed(list(moment.recent)) if e.kind.endswith("saved")]
    order = [p for p in dict.fromkeys(saved) if p in changed] + [p for p in changed if p not in saved]
    found: list[dict[str, Any]] = []
    for path in order[:MAX_FALLBACK_FILES]:
        target = moment.workspace / path
        try:
            if not target.is_file() or target.stat().st_size > MAX_FALLBACK_BYTES:
                continue
            new = target.read_bytes()
        except OSError:
            continue
        old = _git(moment, "show", f"HEAD:./{path}")
        if old is None or b"\0" in new[:4096]:
            continue
        for hunk in file_hunks(old, new.decode("utf-8", errors="replace"), path, target.stat().st_mtime):
            found.append({**hunk, "since": "commit"})
    return found


IMPORT = re.compile(r"^\s*(?:>>>\s*)?(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", re.MULTILINE)
MAX_TEST_FILE_BYTES = 500_000


def _module_of(path: str) -> str:
    """`src/pkg/sub/mod.py` -> `pkg.sub.mod`; `pkg/__init__.py` -> `pkg`."""
    parts = posixpath.splitext(path.replace("\\", "/"))[0].split("/")
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imported_by_tests(moment: Moment) -> set[str]:
    """Modules the failing tests' files import (Python, doctests in text files too)."""
    found: set[str] = set()
    files = {str(f.get("test") or "").split("::")[0] for f in moment.failures}
    files |= {str(f.get("path")) for f in moment.failures if f.get("path")}
    files.discard("")
    for name in list(files)[:5]:
        relative = moment.relative(name, moment.workspace) if name else None
        if relative is None:
            continue
        try:
            target = moment.workspace / relative
            if target.stat().st_size > MAX_TEST_FILE_BYTES:
                continue
            text = target.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found.update(a or b for a, b in IMPORT.findall(text))
    return found


def _imported(module: str, imported: set[str]) -> bool:
    return bool(module) and any(module == name or module.startswith(name + ".") or name.startswith(module + ".")
                                for name in imported)


MAX_SOURCE_BYTES = 1_000_000


def _python_source(moment: Moment, path: str) -> str | None:
    """The saved text of a Python suspect file (for `comment_only`'s tokenizer), or None."""
    if posixpath.splitext(path)[1].lower() not in (".py", ".pyi"):
        return None
    relative = moment.relative(path, moment.workspace)
    if relative is None:
        return None
    target = moment.workspace / relative
    try:
        if target.stat().st_size > MAX_SOURCE_BYTES:
            return None
        return target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def rank(moment: Moment) -> list[tuple[float, dict[str, Any]]]:
    """(score, suspect), best first. Without suspects in the evidence, the uncommitted changes stand
    in — but only those the failure points at (its traceback or output names the file, or the
    failing test's module matches it): a random uncommitted edit is no suspect."""
    locations = _locations(moment)
    texts = moment.texts
    test_stems = {_stem(str(f.get("test") or "").split("::")[0]) for f in moment.failures}
    test_stems |= {_stem(str(f.get("path") or "")) for f in moment.failures if f.get("path")}
    test_stems.discard("")
    ranked = []
    fallback = not moment.suspects
    suspects = moment.suspects or (uncommitted_suspects(moment) if moment.failures or moment.output else [])
    imported = _imported_by_tests(moment) if suspects else set()
    for index, suspect in enumerate(suspects):
        path = str(suspect["path"])
        first, last = _span(suspect)
        score = 1.0 / (1 + index)
        near = [line for named, line in locations if _same_file(named, path)]
        if any(first - NEAR_LINES <= line <= last + NEAR_LINES for line in near):
            score += 4.0
        elif near or posixpath.basename(path) in texts:
            score += 2.0
        if _stem(path) in test_stems or _imported(_module_of(path), imported):
            score += 1.5  # the failing test's module is named after it, or imports it
        if comment_only(suspect, _python_source(moment, path)):
            score -= COMMENT_PENALTY  # it cannot have broken the run
        if fallback and score - 1.0 / (1 + index) < 1.5:
            continue
        ranked.append((score, suspect))
    ranked.sort(key=lambda item: -item[0])
    return ranked


def revert_diff(suspect: dict[str, Any]) -> str:
    """The unified diff that undoes one suspect hunk (its context kept so it applies only where it belongs)."""
    if suspect.get("truncated") or suspect.get("redacted"):
        return ""  # cut lines or a redaction placeholder would be written back (docs/evidence.md)
    path = str(suspect["path"]).replace("\\", "/")
    body = [line for line in str(suspect.get("hunk") or "").splitlines() if line]
    header = HUNK_HEADER.match(body[0]) if body else None
    if header is not None:
        old_start, old_count = int(header.group(1)), int(header.group(2) or 1)
        new_start, new_count = int(header.group(3)), int(header.group(4) or 1)
        lines = []
        for line in body[1:]:
            if line.startswith("\\"):
                continue
            marker = {"-": "+", "+": "-"}.get(line[0], " ")
            lines.append(marker + line[1:])
    else:
        removed = [str(r) for r in suspect.get("removed") or []]
        added = [str(a) for a in suspect.get("added") or []]
        if not removed and not added:
            return ""
        old_start = int(suspect.get("old_start") or suspect.get("line") or 1)
        new_start = int(suspect.get("new_start") or suspect.get("line") or 1)
        old_count, new_count = len(removed), len(added)
        lines = ["-" + a for a in added] + ["+" + r for r in removed]
    return (f"--- a/{path}\n+++ b/{path}\n@@ -{new_start},{new_count} +{old_start},{old_count} @@\n"
            + "\n".join(lines) + "\n")


def _checked(moment: Moment, diff: str, path: str) -> bool:
    from companion.patching import PatchError, check

    try:
        check(moment.workspace, diff, path)
    except (PatchError, OSError, UnicodeDecodeError):  # a rule never raises: no revert is offered
        return False
    return True


def _change_text(suspect: dict[str, Any]) -> str:
    removed = [str(r).strip() for r in suspect.get("removed") or []][:2]
    added = [str(a).strip() for a in suspect.get("added") or []][:2]
    if removed and added:
        return f"`{'; '.join(removed)[:80]}` → `{'; '.join(added)[:80]}`"
    if added:
        return f"added `{'; '.join(added)[:80]}`"
    return f"removed `{'; '.join(removed)[:80]}`" if removed else "changed"


@rule("regression.revert")
def regression(moment: Moment) -> Iterator[Candidate]:
    """Tests or a command that passed before fail now: revert the suspect hunk, or open it."""
    ranked = rank(moment)
    if not ranked:
        return
    score, suspect = ranked[0]
    # ranked first and comment-only: every suspect only touches comments, nothing to revert
    comment = comment_only(suspect, _python_source(moment, str(suspect["path"])))
    path = str(suspect["path"]).replace("\\", "/")
    line = int(suspect.get("line") or suspect.get("new_start") or 1)
    failure = moment.failures[0] if moment.failures else None
    message = str(failure.get("message") or "").strip()[:200] if failure else last_error_line(moment.output)
    broke = str(failure.get("test") or "").split("::")[-1] if failure else (moment.command[:60] or "the run")
    green = moment.evidence.get("green") if isinstance(moment.evidence.get("green"), dict) else None
    why: dict[str, Any] = {"suspect": {k: suspect.get(k) for k in ("path", "line", "removed", "added", "hunk", "saved_ts",
                                                                   "since") if k in suspect},
                           "rank": round(score, 2)}
    if failure:
        why["failure"] = {k: failure.get(k) for k in ("test", "message", "path", "line")}
    elif message:
        why["output_lines"] = [message]
    if green:
        why["green"] = green
    change = _change_text(suspect)
    sure = not comment and (score >= 3.0 or len(ranked) == 1)
    diff = "" if comment else revert_diff(suspect)
    if diff and moment.relative(path) is not None and _checked(moment, diff, path):
        yield Candidate("", f"Revert the change to {path} line {line} that broke {broke}", "edit", response=diff,
                        path=path, line=line, evidence=why, confidence=0.85 if sure else 0.7)
    since = "the last commit" if suspect.get("since") == "commit" else "the last passing run"
    detail = f"{path}:{line} changed since {since}: {change}" + (" (only comments)" if comment else "")
    title = f"changed since {broke} last passed" if since == "the last passing run" else "changed since the last commit"
    yield Candidate("", f"Open {path}:{line}, {title}", "open",
                    response=f"{detail}\n{message}".strip(), path=path, line=line, evidence=why,
                    confidence=0.5 if comment else 0.8 if sure else 0.62)
