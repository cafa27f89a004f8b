"""Which tests failed, with what message, where: from JUnit XML reports and from pytest's own output.

Why here and not in the watchers: the shell route (the JUnit file the hook asked pytest to write,
or the output tail when there is none) and the test-results watcher (the reports a project writes
anyway) produce the same `evidence.failures` items, so one parser serves both. Every item is
`{"test", "message", "path", "line", "traceback"}` with `path` relative to the workspace when it
lies inside it; only the first MAX_FAILURES are kept, the count is of all of them. Reports are
untrusted files (half written, huge, not XML at all): a bad one raises ReportError, nothing else.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_FAILURES = 20
MAX_PASSED = 2000  # passing test ids a run hands the daemon for its greens (never stored with the event)
MAX_REPORT_BYTES = 50_000_000
TRACEBACK_LINES = 30
MESSAGE_CHARS = 500

# "tests/test_a.py:47: AssertionError" (pytest), 'File "x.py", line 3' (Python), "(src/a.test.js:10:5)"
_PYTEST_LOCATION = re.compile(r"^(?P<path>[^\s:][^:\n]*?\.\w+):(?P<line>\d+): ", re.M)
_PYTHON_FRAME = re.compile(r'^\s*File "(?P<path>[^"\n]+)", line (?P<line>\d+)', re.M)
_OTHER_LOCATION = re.compile(r"\(?(?P<path>[\w./\\-]+\.[A-Za-z]{1,5}):(?P<line>\d+)(?::\d+)?\)?")
_SUMMARY_HEADER = re.compile(r"^=+ short test summary info =+\s*$", re.M)
_SUMMARY_LINE = re.compile(r"^(?P<kind>FAILED|ERROR) (?P<test>\S+)(?: - (?P<message>.*))?$")
_RESULT_LINE = re.compile(r"^=*\s*(?P<counts>(?:\d+ \w+(?:, )?)+) in [\d.]+s", re.M)
_SECTION = re.compile(r"^_{3,} (?P<name>.+?) _{3,}\s*$", re.M)
_ERROR_TITLE = re.compile(r"^ERROR (?:at \w+ of|collecting) (?P<name>.+)$")


class ReportError(ValueError):
    """A report that cannot be read (yet): half written, too large, or not the expected format."""


@dataclass
class JUnitReport:
    failing: set[str] = field(default_factory=set)  # ids `classname::name`, as the test-results watcher keys them
    passing: set[str] = field(default_factory=set)
    passed_cases: list[tuple[str, str, str | None]] = field(default_factory=list)  # first MAX_PASSED: classname, name, file
    failures: list[dict[str, Any]] = field(default_factory=list)  # first MAX_FAILURES, with details
    failure_count: int = 0


def relative(path: str, root: Path | None) -> str:
    """`path` relative to the workspace when it lies inside it, posix style; else unchanged."""
    path = path.strip()
    if root is not None and os.path.isabs(path):
        try:
            rel = os.path.relpath(path, root)
            if not rel.startswith(".."):
                return Path(rel).as_posix()
        except ValueError:
            pass
    return path.replace("\\", "/")


def last_location(text: str, root: Path | None = None) -> tuple[str | None, int | None]:
    """The innermost `file:line` a traceback names (pytest's location lines first, then Python frames)."""
    for pattern in (_PYTEST_LOCATION, _PYTHON_FRAME, _OTHER_LOCATION):
        match = None
        for match in pattern.finditer(text):
            pass
        if match is not None:
            return relative(match.group("path"), root), int(match.group("line"))
    return None, None


def cut_traceback(text: str, lines: int = TRACEBACK_LINES) -> str:
    kept = text.strip("\n").split("\n")
    return "\n".join(kept[-lines:])


def one_line(message: str) -> str:
    """The first non-empty line of a message, bounded (the reprcrash message is often multi-line)."""
    for line in message.strip().split("\n"):
        if line.strip():
            return line.strip()[:MESSAGE_CHARS]
    return ""


def node_id(classname: str, name: str, file: str | None, root: Path | None) -> str:
    """pytest's node id (`tests/test_a.py::TestA::test_x`) from JUnit attributes, when it can be told."""
    parts = [p for p in classname.split(".") if p]
    if file:
        file = relative(file, root)
        module = file[:-3].replace("/", ".") if file.endswith(".py") else None
        if module and classname.startswith(module):
            classes = [p for p in classname[len(module):].split(".") if p]
            return "::".join([file, *classes, name])
        return f"{file}::{name}"
    if root is not None:  # xunit2 has no file attribute: find the module file the classname names
        for cut in range(len(parts), 0, -1):
            candidate = "/".join(parts[:cut]) + ".py"
            if (root / candidate).is_file():
                return "::".join([candidate, *parts[cut:], name])
    return f"{classname}::{name}" if classname else name


def failure_item(test: str, message: str, traceback: str, root: Path | None,
                 fallback: tuple[str | None, int | None] = (None, None)) -> dict[str, Any]:
    path, line = last_location(traceback, root)
    if path is None:
        path, line = fallback
    if path is None and "::" in test:
        path = test.split("::", 1)[0]
    return {"test": test, "message": one_line(message) or one_line(traceback.strip().split("\n")[-1] if traceback else ""),
            "path": path, "line": line, "traceback": cut_traceback(traceback)}


def read_junit(path: Path, root: Path | None = None) -> JUnitReport:
    """Every testcase of a JUnit XML file (any runner); failures and errors with their details."""
    report = JUnitReport()
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise ReportError(f"{path}: larger than {MAX_REPORT_BYTES} bytes")
        for _event, element in ElementTree.iterparse(path, events=("end",)):
            if element.tag != "testcase":
                continue
            name = element.get("name") or "?"
            group = element.get("classname") or ""
            test = f"{group}::{name}" if group else (f"{element.get('file')}::{name}" if element.get("file") else name)
            problem = next((child for child in element if child.tag in ("failure", "error")), None)
            if problem is not None:
                report.failing.add(test)
                report.failure_count += 1
                if len(report.failures) < MAX_FAILURES:
                    report.failures.append(_junit_failure(element, problem, root))
            elif not any(child.tag == "skipped" for child in element):
                report.passing.add(test)
                if len(report.passed_cases) < MAX_PASSED:  # named only when a command's evidence wants them
                    report.passed_cases.append((group, name, element.get("file")))
            element.clear()
    except (OSError, ElementTree.ParseError) as exc:
        raise ReportError(f"{path}: {exc}") from None
    return report


def _junit_failure(case: ElementTree.Element, problem: ElementTree.Element, root: Path | None) -> dict[str, Any]:
    file = case.get("file")
    test = node_id(case.get("classname") or "", case.get("name") or "?", file, root)
    text = problem.text or ""
    fallback: tuple[str | None, int | None] = (None, None)
    if file:
        line = case.get("line")
        # pytest's xunit1 `line` is the 0-based line of the test's definition
        fallback = (relative(file, root), int(line) + 1 if line and line.isdigit() else None)
    message = problem.get("message") or one_line(text) or problem.get("type") or problem.tag
    return failure_item(test, message, text, root, fallback)


def parse_short_summary(text: str, root: Path | None = None) -> tuple[list[dict[str, Any]], int]:
    """Failures from pytest's terminal output: its "short test summary info" lines, located by the
    failure sections above them when those are in the text. Returns (first MAX_FAILURES, count)."""
    headers = list(_SUMMARY_HEADER.finditer(text))
    if not headers:
        return [], 0
    before, summary = text[: headers[-1].start()], text[headers[-1].end():]
    sections = _sections(before)
    failures: list[dict[str, Any]] = []
    listed = 0
    for raw in summary.split("\n"):
        match = _SUMMARY_LINE.match(raw.strip())
        if match is None:
            if _RESULT_LINE.match(raw.strip()):
                break
            continue
        listed += 1
        if len(failures) >= MAX_FAILURES:
            continue
        test = match.group("test")
        message = match.group("message") or ""
        section = sections.get(_section_name(test), "")
        item = failure_item(test, message, section, root)
        if not item["message"]:
            item["message"] = one_line(message)
        failures.append(item)
    counted = 0
    result = _RESULT_LINE.search(summary)
    if result is not None:
        for number, word in re.findall(r"(\d+) (\w+)", result.group("counts")):
            if word in ("failed", "error", "errors"):
                counted += int(number)
    return failures, max(listed, counted)


def _section_name(test: str) -> str:
    """pytest's section title for a node id: `TestA.test_x` for `path::TestA::test_x`."""
    parts = test.split("::")
    return ".".join(parts[1:]) if len(parts) > 1 else parts[0]


def _sections(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    matches = list(_SECTION.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        name = match.group("name").strip()
        error = _ERROR_TITLE.match(name)
        if error is not None:
            name = error.group("name")
        found.setdefault(name, text[match.end():end])
    return found


def report_evidence(report: JUnitReport, root: Path | None = None) -> dict[str, Any]:
    """A JUnit report's part of a command's evidence: its failures, and the ids that passed (at
    most MAX_PASSED, sorted, named as the failures are) under `passed`, which the evidence stage
    takes as greens of those test ids and removes before the event is stored
    (companion/evidence/enrich.py)."""
    evidence = failures_evidence(report.failures, report.failure_count)
    if report.passed_cases:
        evidence["passed"] = sorted(node_id(group, name, file, root) for group, name, file in report.passed_cases)
    return evidence


def failures_evidence(failures: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """The `failures`/`failure_count` part of an event's evidence (empty when nothing failed)."""
    if not failures and not count:
        return {}
    return {"failures": failures[:MAX_FAILURES], "failure_count": max(count, len(failures))}
