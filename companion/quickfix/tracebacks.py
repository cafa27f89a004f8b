"""Where it broke: a Python traceback's innermost frame in the workspace, a SyntaxError's line, a
compiler's or linter's `path:line[:col]`, a failing test's location — `open` there, with the error.

Frames in site-packages or a virtual environment are skipped: the user's own code is where they
can act. A location whose file does not exist in the workspace is never offered.
"""

from __future__ import annotations

import re
import warnings
from typing import Iterator

from companion.quickfix.base import Candidate, Moment, rule

PY_FRAME = re.compile(r'^(?:E\s)?\s*File "(?P<path>[^"\n]+)", line (?P<line>\d+)', re.MULTILINE)  # "E " in pytest's reports
# path:line[:col] followed by a message: gcc/clang, go, mypy, ruff, flake8, pylint, pytest's "x.py:47: AssertionError"
PATH_LINE = re.compile(r"^\s*(?:-->\s*)?(?P<path>[\w.@+~/\\-][^\s:()\"']*\.[A-Za-z0-9]{1,10})[:(](?P<line>\d+)(?:[:,](?P<col>\d+))?\)?(?::|\s|$)(?P<rest>.*)$",
                       re.MULTILINE)
ERROR_LINE = re.compile(r"^(?:\w+\.)*(?:[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Warning)|KeyboardInterrupt|AssertionError)\b.*$",
                        re.MULTILINE)
SYNTAX = re.compile(r"^(?:E\s+)?(SyntaxError|IndentationError|TabError)\b:?\s*(.*)$", re.MULTILINE)
MAX_COMPILE_BYTES = 1_000_000
RECENT_SAVES = 10
COMPILER_WORDS = re.compile(r"\b(error|warning|fatal|note|E\d{3,4}|W\d{3,4}|F\d{3}|TS\d{4})\b", re.IGNORECASE)
FOREIGN = ("site-packages", "dist-packages", "/.venv/", "/venv/", "/lib/python", "<frozen", "<string>", "node_modules")


def _foreign(path: str) -> bool:
    posix = path.replace("\\", "/")
    return any(part in posix for part in FOREIGN)


def last_error_line(text: str) -> str:
    """The exception line that ends a traceback ("ValueError: bad value"), or ""."""
    found = ERROR_LINE.findall(text)
    return found[-1].strip()[:300] if found else ""


def python_frames(moment: Moment, text: str) -> list[tuple[str, int]]:
    """(workspace path, line) of each traceback frame in the user's own files, outermost first."""
    frames = []
    for match in PY_FRAME.finditer(text):
        if _foreign(match.group("path")):
            continue
        relative = moment.relative(match.group("path"))
        if relative is not None:
            frames.append((relative, int(match.group("line"))))
    return frames


def path_lines(moment: Moment, text: str) -> Iterator[tuple[str, int, str]]:
    """(workspace path, line, rest of the line) for each `path:line` that names an existing file."""
    for match in PATH_LINE.finditer(text):
        if _foreign(match.group("path")):
            continue
        relative = moment.relative(match.group("path"))
        if relative is not None:
            yield relative, int(match.group("line")), match.group("rest").strip()


@rule("traceback.syntax_error")
def syntax_error(moment: Moment) -> Iterator[Candidate]:
    """A SyntaxError, IndentationError or TabError: open the file at the line Python names."""
    text = moment.texts
    found = SYNTAX.search(text)
    if found is None:
        return
    frames = python_frames(moment, text[:found.start()])
    if not frames:
        return
    path, line = frames[-1]
    error = found.group(0).strip()[:300]
    yield Candidate("", f"Fix the {found.group(1)} in {path} line {line}", "open",
                    response=f"{error} — {path}:{line}", path=path, line=line, confidence=0.8,
                    evidence={"output_lines": [error], "location": f"{path}:{line}"})


def _saved_python_files(moment: Moment) -> list[str]:
    """Workspace paths of the Python files saved lately, newest first."""
    seen: list[str] = []
    for event in reversed(list(moment.recent)):
        if event.kind not in ("file.saved", "file.created", "editor.saved"):
            continue
        path = str(event.data.get("path") or "")
        if path.endswith(".py") and path not in seen:
            seen.append(path)
        if len(seen) >= RECENT_SAVES:
            break
    return seen


@rule("traceback.saved_syntax")
def saved_syntax(moment: Moment) -> Iterator[Candidate]:
    """A run failed and a Python file saved just before does not compile: open its SyntaxError, even
    when no output was captured (the plain shell hook records none)."""
    if SYNTAX.search(moment.texts):
        return  # the output says where; syntax_error answers
    for path in _saved_python_files(moment):
        relative = moment.relative(path, moment.workspace)
        if relative is None:
            continue
        target = moment.workspace / relative
        try:
            if target.stat().st_size > MAX_COMPILE_BYTES:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # SyntaxWarnings of the user's code are not ours to print
                compile(target.read_bytes(), relative, "exec", dont_inherit=True)
        except SyntaxError as exc:
            line = int(exc.lineno or 1)
            error = f"{type(exc).__name__}: {exc.msg}"
            yield Candidate("", f"Fix the {type(exc).__name__} in {relative} line {line}", "open",
                            response=f"{error} — {relative}:{line} (saved just before the run)", path=relative,
                            line=line, confidence=0.75,
                            evidence={"output_lines": [error], "location": f"{relative}:{line}", "saved": relative})
            return
        except (OSError, ValueError):
            continue


@rule("traceback.frame")
def traceback_frame(moment: Moment) -> Iterator[Candidate]:
    """A Python traceback: open its innermost frame in the user's own code, with the exception."""
    text = moment.output
    if "Traceback (most recent call last)" not in text or SYNTAX.search(text):
        return
    frames = python_frames(moment, text)
    if not frames:
        return
    path, line = frames[-1]
    error = last_error_line(text[text.rfind("Traceback (most recent call last)"):])
    what = f", where `{error[:80]}` was raised" if error else ""
    yield Candidate("", f"Open {path}:{line}{what}", "open", response=f"{error or 'The error'} — {path}:{line}",
                    path=path, line=line, confidence=0.65,
                    evidence={"output_lines": [error] if error else [], "location": f"{path}:{line}"})


@rule("traceback.failing_test")
def failing_test(moment: Moment) -> Iterator[Candidate]:
    """A failing test (evidence.failures): open the innermost place in the user's code its traceback
    names, else the test's own file:line, with the assertion message."""
    for failure in moment.failures[:3]:
        message = str(failure.get("message") or "").strip()[:300]
        places = [(p, n) for p, n, _ in path_lines(moment, str(failure.get("traceback") or ""))]
        places += python_frames(moment, str(failure.get("traceback") or ""))
        own = moment.relative(str(failure.get("path") or "")) if failure.get("path") else None
        if own is not None and isinstance(failure.get("line"), int):
            places.append((own, int(failure["line"])))
        if not places:
            continue
        path, line = places[-1]
        test = str(failure.get("test") or path)
        yield Candidate("", f"Open {path}:{line}, where {test.split('::')[-1]} fails", "open",
                        response=f"{test}: {message}" if message else test, path=path, line=line, confidence=0.6,
                        evidence={"failure": {k: failure.get(k) for k in ("test", "message", "path", "line")}})
        return


@rule("traceback.compiler")
def compiler_location(moment: Moment) -> Iterator[Candidate]:
    """A compiler's or linter's `path:line[:col]: error …`: open the first one."""
    if "Traceback (most recent call last)" in moment.output:
        return
    for path, line, rest in path_lines(moment, moment.output):
        if not COMPILER_WORDS.search(rest) and not rest[:1].isupper():
            continue
        message = rest.lstrip(": ").strip()[:200]
        yield Candidate("", f"Open {path}:{line}: {message[:70]}", "open", response=f"{path}:{line}: {message}",
                        path=path, line=line, confidence=0.6,
                        evidence={"output_lines": [f"{path}:{line}: {message}"], "location": f"{path}:{line}"})
        return
