"""One baseline per repository, then the mutants worth a moment: those that 1 to 20 tests catch.

The baseline runs the whole test command once with coverage contexts: which tests pass before any
change (those that fail are reported and never blamed on a mutant), and which tests run each source
line. A candidate mutant is then judged in a scratch copy by running only the tests that reach its
line; it is kept when at least 1 and at most 20 of them fail (a slip the tests catch, without
drowning the output).

Without pytest-cov in the tests' Python there are no coverage contexts: candidates are then lines
of the project's source files (those in functions the tests name first), each judged by running
the whole test command, so fewer are tried. The baseline says so in its note.

Selection is deterministic: candidates are tried in a seeded order until `count` are kept or a
fixed number of candidates (`max_tries`) has been judged. The wall-clock `budget_s` is only a
safety: passing it raises SelectionTimeout (nothing is kept or cached), so what is kept, and then
cached per repository commit, test command, interpreter, seed and caps, never depends on the
machine's load.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from companion.moments.mutants import OPERATORS, Mutant, compiles, find_mutants
from companion.moments.repo import Repo
from companion.moments.testrun import NO_TESTS_EXIT, TestReport, lines_to_tests, run_tests

MIN_FAILING, MAX_FAILING = 1, 20
MAX_SELECTED_TESTS = 300  # more covering tests than this: run their files instead
FEW_TESTS = 60  # lines that fewer tests reach are tried first: quicker to judge, likelier to fail 1..20
TRIES_PER_MUTANT = 20  # candidates judged at most per mutant wanted (only the tests reaching the line run)
WHOLE_RUN_TRIES_PER_MUTANT = 6  # the same without coverage contexts: each try runs the whole test command
SELECTION_SAFETY_S = 600.0  # wall-clock safety of one repository's selection (an error, never a stop)
CACHE_VERSION = 2
# pytest collects `test_*.py` and `*_test.py`; unittest's discovery `test*.py` (tests.py, testparser.py)
UNITTEST_FILES = ("-o", "python_files=test*.py *_test.py")
NOT_SOURCE_PARTS = {"docs", "doc", "examples", "example", "scripts", "benchmarks", "bench", "tools", "build", "dist",
                    ".venv", "venv", "site-packages"}
NOT_SOURCE_NAMES = {"setup.py", "conftest.py", "noxfile.py", "fabfile.py", "tasks.py"}


class SelectionTimeout(RuntimeError):
    """The selection passed its wall-clock safety: what it found depends on the machine's speed."""

    def __init__(self, message: str, tried: int, kept: int) -> None:
        super().__init__(message)
        self.tried, self.kept = tried, kept


def is_test_path(path: str) -> bool:
    parts = PurePosixPath(path).parts
    name = parts[-1]
    return any(p in ("test", "tests", "testing") for p in parts[:-1]) or name.startswith("test_") \
        or name.endswith("_test.py") or name == "conftest.py"


@dataclass
class Baseline:
    """The repository's tests before any change."""

    command: str
    exit_code: int | None
    seconds: float
    tests: int
    failing: list[str] = field(default_factory=list)  # tests that fail before any mutation
    covered: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # path -> line -> tests
    note: str = ""
    pytest_options: list[str] = field(default_factory=list)  # added to every harness run (PYTEST_ADDOPTS)
    coverage: bool = True  # coverage contexts were asked for and read; else mutants are judged by whole runs

    @property
    def usable(self) -> bool:
        return self.tests > 0 and self.exit_code is not None

    @property
    def whole_runs(self) -> bool:
        """Mutants are judged by running the whole test command (no coverage contexts to choose tests)."""
        return self.usable and not self.coverage


@dataclass
class Kept:
    """A mutant and the tests it makes fail."""

    mutant: Mutant
    failing: list[str]
    messages: dict[str, str]

    def to_dict(self) -> dict:
        return {"mutant": asdict(self.mutant), "failing": self.failing, "messages": self.messages}

    @classmethod
    def from_dict(cls, raw: dict) -> "Kept":
        return cls(Mutant(**raw["mutant"]), list(raw["failing"]), dict(raw["messages"]))


def max_tries(count: int, whole_runs: bool) -> int:
    """How many candidates the selection judges at most for `count` mutants (a fixed cap: deterministic)."""
    return max(1, count) * (WHOLE_RUN_TRIES_PER_MUTANT if whole_runs else TRIES_PER_MUTANT)


def cache_key(repo: Repo, command: str, seed: int, count: int, interpreter: str = "") -> str:
    caps = [TRIES_PER_MUTANT, WHOLE_RUN_TRIES_PER_MUTANT, MIN_FAILING, MAX_FAILING]
    text = json.dumps([CACHE_VERSION, str(repo.source), repo.commit, command, seed, count, interpreter, caps])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _unittest_style_files(base: Path) -> list[str]:
    """Tracked files that unittest discovers (`test*.py`) and pytest by default does not."""
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=base, capture_output=True, text=True, timeout=60).stdout
    found = []
    for path in listed.split():
        name = PurePosixPath(path).name
        if name.startswith("test") and not name.startswith("test_") and not name.endswith("_test.py"):
            found.append(path)
    return found


def _mentions_unittest(command: str) -> bool:
    return re.search(r"(^|[\s/])(-m\s+)?unittest\b|\bnose2?\b|\btrial\b", command) is not None


def run_baseline(repo: Repo, command: str, env: dict[str, str], scratch: Path, timeout: float,
                 python: str = "") -> Baseline:
    """The whole test command once, with coverage contexts when pytest-cov is there. `python`
    names the tests' interpreter in the notes."""
    where = f" in {python}" if python else ""
    coverage_file = scratch / "baseline.coverage"
    report = run_tests(command, repo.base, env, scratch / "baseline.xml", timeout, coverage_file=coverage_file)
    notes: list[str] = []
    options: list[str] = []
    coverage = True
    without_cov = "unrecognized arguments: --cov" in report.output or \
        "--cov-context" in report.output and not report.has_report
    if without_cov:
        coverage = False
        report = run_tests(command, repo.base, env, scratch / "baseline.xml", timeout)
    if report.no_tests and not report.timed_out:
        unittest_files = _unittest_style_files(repo.base)
        if unittest_files:  # unittest names its files test*.py; pytest looks for test_*.py and *_test.py only
            retry = run_tests(command, repo.base, env, scratch / "baseline.xml", timeout, options=list(UNITTEST_FILES),
                              coverage_file=coverage_file if coverage else None)
            if retry.has_report and retry.tests:
                report, options = retry, list(UNITTEST_FILES)
                shown = ", ".join(unittest_files[:3]) + (" ..." if len(unittest_files) > 3 else "")
                notes.append(f"pytest's default file patterns (test_*.py, *_test.py) found no tests; the unittest-style "
                             f"files ({shown}) were collected with `-o 'python_files=test*.py *_test.py'` (the moments "
                             "type their node ids, which pytest collects whatever their name)")
    covered: dict[str, dict[str, list[str]]] = {}
    if coverage and report.coverage_file is not None and report.has_report:
        try:
            mapped = lines_to_tests(report.coverage_file, repo.base)
        except Exception as exc:  # coverage missing here, or a data file of another coverage version
            mapped = {}
            coverage = False
            notes.append(f"the baseline's coverage data could not be read ({type(exc).__name__}: {exc})")
        for path, lines in mapped.items():
            if path.endswith(".py") and not is_test_path(path):
                covered[path] = {str(line): sorted(tests) for line, tests in lines.items()}
        if coverage and not covered and report.tests:
            coverage = False
            notes.append("coverage saw no line of the repository's own source files run (do the tests import an "
                         "installed copy?): each candidate mutant is judged by running the whole test command")
    elif coverage:
        coverage = False  # the command ran no pytest-cov (not pytest at all, or it did not get PYTEST_ADDOPTS)
    if report.timed_out:
        notes.append(f"the test command did not finish within {timeout:.0f} s (--baseline-timeout)")
    elif "No module named pytest" in report.output and not report.has_report:
        notes.append(f"pytest is not installed{where}: install it there (with pytest-cov) or pass --python; "
                     "regression, syntax-error and passing-tests moments need it, the other moments still run")
    elif not report.has_report and (_mentions_unittest(command) or report.exit_code in (0, NO_TESTS_EXIT)):
        notes.append(f"the test command `{command}` does not run pytest (it wrote no JUnit report): only "
                     "pytest-compatible commands are supported for regression, syntax-error and passing-tests "
                     "moments (pytest runs unittest suites too: try --test-cmd 'python -m pytest'); the other "
                     "moments still run")
    elif report.no_tests:
        notes.append("the test command found no tests")
    elif not report.has_report:
        notes.append(f"the test command failed (exit {report.exit_code}) without a pytest report: "
                     f"{report.output[-300:]}")
    elif without_cov and report.tests:
        notes.append(f"the test command ran without pytest-cov (is it installed{where}?): each candidate mutant is "
                     "judged by running the whole test command (fewer candidates, within the selection's safety "
                     "limit); with pytest-cov only the tests that reach a mutant's line run, and only covered lines "
                     "are mutated")
    return Baseline(command=command, exit_code=report.exit_code, seconds=round(report.seconds, 2), tests=report.tests,
                    failing=sorted(report.failed), covered=covered, note="; ".join(notes), pytest_options=options,
                    coverage=coverage)


def source_files(base: Path) -> list[str]:
    """The project's tracked Python source files: not tests, docs, examples, scripts or set-up."""
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=base, capture_output=True, text=True, timeout=60).stdout
    found = []
    for path in sorted(listed.split()):
        parts = PurePosixPath(path).parts
        if is_test_path(path) or parts[-1] in NOT_SOURCE_NAMES or NOT_SOURCE_PARTS & set(parts[:-1]):
            continue
        found.append(path)
    return found


def _test_words(base: Path) -> set[str]:
    """Identifiers the test files use: a function they name is likelier to be one they run."""
    words: set[str] = set()
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=base, capture_output=True, text=True, timeout=60).stdout
    for path in listed.split():
        if is_test_path(path):
            try:
                words |= set(re.findall(r"[A-Za-z_]\w+", (base / path).read_text(encoding="utf-8", errors="replace")))
            except OSError:
                continue
    return words


def candidates(repo: Repo, baseline: Baseline, seed: int) -> list[tuple[Mutant, list[str]]]:
    """Mutants on covered lines of source files, interleaved by operator, in a seeded order. Without
    coverage contexts: mutants on every line of the source files, those in functions the tests name
    first, each with no tests of its own (judged by the whole test command)."""
    broken = set(baseline.failing)
    per_operator: dict[str, list[tuple[Mutant, list[str]]]] = {op: [] for op in OPERATORS}
    if baseline.coverage:
        for path in sorted(baseline.covered):
            lines = baseline.covered[path]
            try:
                text = (repo.base / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            usable = {int(n) for n, tests in lines.items() if tests and not broken & set(tests)}
            for mutant in find_mutants(path, text, usable, check=False):
                per_operator[mutant.operator].append((mutant, lines[str(mutant.line)]))
    else:
        words = _test_words(repo.base)
        for path in source_files(repo.base):
            try:
                text = (repo.base / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for mutant in find_mutants(path, text, None, check=False):
                named = bool(mutant.symbol) and mutant.symbol.split(".")[-1] in words
                per_operator[mutant.operator].append((mutant, ["named"] if named else []))
    rng = random.Random(seed)
    for group in per_operator.values():
        rng.shuffle(group)
        if baseline.coverage:
            # popped from the end: lines few tests reach come first, each half in its seeded order
            group.sort(key=lambda item: len(item[1]) <= FEW_TESTS)
        else:  # functions the tests name first; the marker is dropped: the whole command judges them
            group.sort(key=lambda item: bool(item[1]))
    if not baseline.coverage:
        per_operator = {op: [(m, []) for m, _ in group] for op, group in per_operator.items()}
    ordered: list[tuple[Mutant, list[str]]] = []
    while any(per_operator.values()):
        for operator in OPERATORS:
            if per_operator[operator]:
                ordered.append(per_operator[operator].pop())
    return ordered


def judge(mutant: Mutant, tests: list[str], repo: Repo, scratch: Path, command: str, env: dict[str, str],
          baseline: Baseline, timeout: float) -> TestReport:
    """Run the tests that reach the mutant's line with the mutant saved in the scratch copy."""
    target = scratch / mutant.path
    original = target.read_text(encoding="utf-8")
    selected = tests if len(tests) <= MAX_SELECTED_TESTS else sorted({t.split("::")[0] for t in tests})
    deselect = [f"--deselect={t}" for t in baseline.failing]
    try:
        target.write_text(mutant.apply(original), encoding="utf-8")
        return run_tests(command, scratch, env, scratch.parent / "judge.xml", timeout, select=selected, extra=deselect,
                         options=baseline.pytest_options)
    finally:
        target.write_text(original, encoding="utf-8")


def select_mutants(repo: Repo, baseline: Baseline, command: str, env: dict[str, str], work: Path, count: int,
                   seed: int, timeout: float, budget_s: float = SELECTION_SAFETY_S, tries: int | None = None,
                   progress: Callable[[str], None] | None = None) -> list[Kept]:
    """Up to `count` mutants that make 1..20 tests fail, judging at most `tries` candidates (default
    `max_tries`) in seeded order. Raises SelectionTimeout past `budget_s` seconds (a safety only)."""
    tries = max_tries(count, baseline.whole_runs) if tries is None else tries
    scratch = repo.copy(work / "scratch", env)
    kept: list[Kept] = []
    started = time.monotonic()
    seen_lines: set[tuple[str, int]] = set()
    judged = 0
    for mutant, tests in candidates(repo, baseline, seed):
        if len(kept) >= count or judged >= tries:
            break
        if time.monotonic() - started > budget_s:
            raise SelectionTimeout(f"mutant selection passed its {budget_s:.0f} s safety limit after {judged} of at most "
                                   f"{tries} candidates ({len(kept)} kept)", judged, len(kept))
        if (mutant.path, mutant.line) in seen_lines or not compiles(mutant, (repo.base / mutant.path).read_text(encoding="utf-8")):
            continue
        judged += 1
        report = judge(mutant, tests, repo, scratch, command, env, baseline, timeout)
        failing = [t for t in report.failed if t not in baseline.failing]
        if not report.timed_out and MIN_FAILING <= len(failing) <= MAX_FAILING:
            kept.append(Kept(mutant, failing, {t: report.messages.get(t, "") for t in failing}))
            seen_lines.add((mutant.path, mutant.line))
            if progress:
                progress(f"{repo.name}: mutant {mutant.path}:{mutant.line} ({mutant.operator}) fails {len(failing)} tests")
    return kept


def load_cached(path: Path) -> tuple[Baseline, list[Kept]] | None:
    try:
        raw = json.loads(path.read_text())
        baseline = Baseline(**raw["baseline"])
        return baseline, [Kept.from_dict(k) for k in raw["kept"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_cached(path: Path, baseline: Baseline, kept: list[Kept]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"baseline": asdict(baseline), "kept": [k.to_dict() for k in kept]}))
    tmp.replace(path)
