"""Run a repository's test command in the harness (never in the user's shell) and read what failed.

pytest is reached through `PYTEST_ADDOPTS`, so any command that ends up running pytest (`python -m
pytest`, `make test`, `tox -e py`...) writes a JUnit report (xunit1: it names each test's file) and,
for the baseline, coverage with one context per test (pytest-cov): which tests run each source
line, so a mutant is judged by running only the tests that reach it. A command that does not run
pytest still gives its exit code. Every run has a timeout and its own process group, killed whole.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

NO_TESTS_EXIT = 5  # pytest: no tests collected
OUTPUT_TAIL = 4000


class Interrupted(RuntimeError):
    """The run is being stopped (Ctrl-C): no new test run starts."""


class _Running:
    """Every test run this process has going (baselines and mutant judging run in threads), so an
    interrupt can end them all at once and keep new ones from starting."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.processes: set[subprocess.Popen[bytes]] = set()
        self.stopping = threading.Event()

    def stop_all(self) -> None:
        self.stopping.set()
        with self.lock:
            for process in list(self.processes):
                kill_group(process)


RUNNING = _Running()


@dataclass
class TestReport:
    """One run of the test command: exit code, which tests failed (node ids) and their messages."""

    exit_code: int | None
    seconds: float
    timed_out: bool = False
    tests: int = 0
    failed: list[str] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)
    has_report: bool = False
    output: str = ""
    coverage_file: Path | None = None

    @property
    def passed(self) -> bool:
        return not self.timed_out and self.exit_code == 0

    @property
    def no_tests(self) -> bool:
        return self.exit_code == NO_TESTS_EXIT or (self.has_report and self.tests == 0)


def node_id(root: Path, case: ET.Element) -> str:
    """The pytest node id of a JUnit testcase: `path.py::Class::name` from xunit1's `file` and `classname`."""
    name = case.get("name", "")
    classname = case.get("classname", "")
    path = case.get("file", "")
    if not path:  # a collection error, or xunit2: find the longest dotted prefix that is a file
        parts = classname.split(".") if classname else []
        for cut in range(len(parts), 0, -1):
            candidate = "/".join(parts[:cut]) + ".py"
            if (root / candidate).is_file():
                return "::".join([candidate, *parts[cut:], name])
        return "::".join(p for p in (classname, name) if p)
    module = path[:-3].replace("/", ".") if path.endswith(".py") else path
    classes = classname[len(module) + 1:].split(".") if classname.startswith(module + ".") else []
    return "::".join([path, *[c for c in classes if c], name])


def read_junit(path: Path, root: Path) -> tuple[int, list[str], dict[str, str]] | None:
    """(tests run, failed node ids, their one-line messages), or None without a readable report."""
    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError):
        return None
    count, failed, messages = 0, [], {}
    for case in tree.iter("testcase"):
        if case.find("skipped") is not None:
            continue
        count += 1
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            node = node_id(root, case)
            failed.append(node)
            message = (problem.get("message") or "").strip()
            if not message:
                text_lines = (problem.text or "").strip().splitlines()
                message = text_lines[-1].strip() if text_lines else ""
            messages[node] = message.splitlines()[0][:300] if message else ""
    return count, failed, messages


def command_line(command: str, select: Iterable[str] = (), extra: Iterable[str] = ()) -> str:
    """The test command with extra options and selected node ids appended, quoted for bash."""
    words = [*extra, *select]
    return command + ("" if not words else " " + " ".join(shlex.quote(w) for w in words))


def run_tests(command: str, cwd: Path, env: dict[str, str], report: Path, timeout: float, select: Iterable[str] = (),
              extra: Iterable[str] = (), coverage_file: Path | None = None, options: Iterable[str] = ()) -> TestReport:
    """Run `command` (bash syntax) in `cwd` with a JUnit report at `report` (and coverage contexts);
    `options`: more pytest options, through PYTEST_ADDOPTS like the report's."""
    report.unlink(missing_ok=True)
    addopts = [f"--junitxml={report}", "-o", "junit_family=xunit1", "-p", "no:cacheprovider", *options]
    run_env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    if coverage_file is not None:
        coverage_file.unlink(missing_ok=True)  # a file left by an earlier run must not pass for this one's
        addopts += [f"--cov={cwd}", "--cov-context=test", "--cov-report="]
        run_env["COVERAGE_FILE"] = str(coverage_file)
    # pytest splits PYTEST_ADDOPTS as a shell would: each option quoted (paths with spaces, patterns)
    run_env["PYTEST_ADDOPTS"] = " ".join([*([env["PYTEST_ADDOPTS"]] if env.get("PYTEST_ADDOPTS") else []),
                                          *(shlex.quote(a) for a in addopts)])
    started = time.monotonic()
    with RUNNING.lock:
        if RUNNING.stopping.is_set():
            raise Interrupted("the run is stopping")
        process = subprocess.Popen(["bash", "-c", command_line(command, select, extra)], cwd=cwd, env=run_env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        RUNNING.processes.add(process)
    timed_out = False
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(process)
        output, _ = process.communicate()
    finally:
        kill_group(process)  # anything the tests left running in the background
        with RUNNING.lock:
            RUNNING.processes.discard(process)
    if RUNNING.stopping.is_set():
        raise Interrupted("the run is stopping")
    text = output.decode(errors="replace")
    result = TestReport(exit_code=None if timed_out else process.returncode, seconds=time.monotonic() - started,
                        timed_out=timed_out, output=text[-OUTPUT_TAIL:])
    parsed = read_junit(report, cwd)
    if parsed is not None:
        result.tests, result.failed, result.messages = parsed
        result.has_report = True
    if coverage_file is not None and coverage_file.is_file():
        result.coverage_file = coverage_file
    return result


def kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def lines_to_tests(coverage_file: Path, root: Path) -> dict[str, dict[int, set[str]]]:
    """{source path relative to root: {line: node ids of the tests that ran it}} from coverage contexts."""
    import coverage

    data = coverage.CoverageData(str(coverage_file))
    data.read()
    covered: dict[str, dict[int, set[str]]] = {}
    for filename in data.measured_files():
        try:
            relative = Path(filename).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
        by_line = data.contexts_by_lineno(filename)
        lines = {}
        for line, contexts in by_line.items():
            tests = {c.rsplit("|", 1)[0] for c in contexts if c}
            if tests:
                lines[line] = tests
        if lines:
            covered[relative] = lines
    return covered
