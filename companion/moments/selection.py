"""One baseline per repository, then the mutants worth a moment: those that 1 to 20 tests catch.

The baseline runs the whole test command once with coverage contexts: which tests pass before any
change (those that fail are reported and never blamed on a mutant), and which tests run each source
line. A candidate mutant is then judged in a scratch copy by running only the tests that reach its
line; it is kept when at least 1 and at most 20 of them fail (a slip the tests catch, without
drowning the output). Results are cached per repository commit, test command and seed.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from companion.moments.mutants import OPERATORS, Mutant, compiles, find_mutants
from companion.moments.repo import Repo
from companion.moments.testrun import TestReport, lines_to_tests, run_tests

MIN_FAILING, MAX_FAILING = 1, 20
MAX_SELECTED_TESTS = 300  # more covering tests than this: run their files instead
FEW_TESTS = 60  # lines that fewer tests reach are tried first: quicker to judge, likelier to fail 1..20
CACHE_VERSION = 1


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

    @property
    def usable(self) -> bool:
        return self.tests > 0 and self.exit_code is not None


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


def cache_key(repo: Repo, command: str, seed: int, count: int) -> str:
    text = json.dumps([CACHE_VERSION, str(repo.source), repo.commit, command, seed, count])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def run_baseline(repo: Repo, command: str, env: dict[str, str], scratch: Path, timeout: float) -> Baseline:
    """The whole test command once, with coverage contexts when pytest-cov is there."""
    coverage_file = scratch / "baseline.coverage"
    report = run_tests(command, repo.base, env, scratch / "baseline.xml", timeout, coverage_file=coverage_file)
    note = ""
    if "unrecognized arguments: --cov" in report.output or "--cov-context" in report.output and not report.has_report:
        note = "pytest-cov is not installed for this test command: mutants are judged by the whole test command"
        report = run_tests(command, repo.base, env, scratch / "baseline.xml", timeout)
    covered: dict[str, dict[str, list[str]]] = {}
    if report.coverage_file is not None:
        for path, lines in lines_to_tests(report.coverage_file, repo.base).items():
            if path.endswith(".py") and not is_test_path(path):
                covered[path] = {str(line): sorted(tests) for line, tests in lines.items()}
    if report.timed_out:
        note = f"the test command did not finish within {timeout:.0f} s"
    elif report.no_tests:
        note = "the test command found no tests"
    elif not report.has_report and report.exit_code not in (0, None):
        note = f"the test command failed (exit {report.exit_code}) without a pytest report: {report.output[-300:]}"
    return Baseline(command=command, exit_code=report.exit_code, seconds=round(report.seconds, 2), tests=report.tests,
                    failing=sorted(report.failed), covered=covered, note=note)


def candidates(repo: Repo, baseline: Baseline, seed: int) -> list[tuple[Mutant, list[str]]]:
    """Mutants on covered lines of source files, interleaved by operator, in a seeded order."""
    broken = set(baseline.failing)
    per_operator: dict[str, list[tuple[Mutant, list[str]]]] = {op: [] for op in OPERATORS}
    for path in sorted(baseline.covered):
        lines = baseline.covered[path]
        try:
            text = (repo.base / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        usable = {int(n) for n, tests in lines.items() if tests and not broken & set(tests)}
        for mutant in find_mutants(path, text, usable, check=False):
            per_operator[mutant.operator].append((mutant, lines[str(mutant.line)]))
    rng = random.Random(seed)
    for group in per_operator.values():
        rng.shuffle(group)
        # popped from the end: lines few tests reach come first, each half in its seeded order
        group.sort(key=lambda item: len(item[1]) <= FEW_TESTS)
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
        return run_tests(command, scratch, env, scratch.parent / "judge.xml", timeout, select=selected, extra=deselect)
    finally:
        target.write_text(original, encoding="utf-8")


def select_mutants(repo: Repo, baseline: Baseline, command: str, env: dict[str, str], work: Path, count: int,
                   seed: int, timeout: float, budget_s: float = 240.0,
                   progress: Callable[[str], None] | None = None) -> list[Kept]:
    """Up to `count` mutants that make 1..20 tests fail, trying candidates in seeded order."""
    scratch = repo.copy(work / "scratch", env)
    kept: list[Kept] = []
    started = time.monotonic()
    seen_lines: set[tuple[str, int]] = set()
    for mutant, tests in candidates(repo, baseline, seed):
        if len(kept) >= count or time.monotonic() - started > budget_s:
            break
        if (mutant.path, mutant.line) in seen_lines or not compiles(mutant, (repo.base / mutant.path).read_text(encoding="utf-8")):
            continue
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
