"""Baselines and mutant selection on small real repositories, and the bad input they meet: tests
that fail before any change, no tests at all, a test command that hangs, a bundle that does not
clone."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from companion.moments.repo import Repo, RepoError, git_env, write_identity
from companion.moments.selection import candidates, run_baseline, select_mutants
from companion.moments.testrun import run_tests
from tests.moments.conftest import CALC, TESTS, make_repo

COMMAND = "python -m pytest -q"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = git_env(write_identity(tmp_path / "harness"))
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ['PATH']}"
    return environ


def test_baseline_maps_lines_to_tests_and_kept_mutants_fail_one_to_twenty(calc_repo, tmp_path, env):
    repo = Repo.clone(calc_repo, tmp_path / "work", env)
    assert repo.branch == "main" and len(repo.commit) == 40
    baseline = run_baseline(repo, COMMAND, env, tmp_path / "work", 120)
    assert baseline.tests == 6 and baseline.failing == [] and baseline.exit_code == 0
    lines = baseline.covered["calc/__init__.py"]
    clamp_low = str(CALC.splitlines().index("        return low") + 1)
    assert lines[clamp_low] == ["tests/test_calc.py::test_clamp_low"]
    assert "tests/test_calc.py" not in baseline.covered  # tests are never mutated

    kept = select_mutants(repo, baseline, COMMAND, env, tmp_path / "work", 3, seed=1, timeout=60)
    assert len(kept) == 3
    assert len({k.mutant.line for k in kept}) == 3  # one mutant per line
    for item in kept:
        assert 1 <= len(item.failing) <= 20
        assert all(t.startswith("tests/test_calc.py::test_") for t in item.failing)
        assert all(item.messages[t] for t in item.failing)
    # the same seed tries the same mutants in the same order; another seed, another order
    order = [m.key for m, _ in candidates(repo, baseline, seed=1)]
    assert order == [m.key for m, _ in candidates(repo, baseline, seed=1)]
    assert order != [m.key for m, _ in candidates(repo, baseline, seed=2)]


def test_tests_failing_before_any_change_are_named_and_their_lines_skipped(tmp_path, env):
    broken = TESTS.replace("assert scale([1, 2], 3) == [3, 6]", "assert scale([1, 2], 3) == [3, 7]")
    source = make_repo(tmp_path / "broken", {"calc/__init__.py": CALC, "tests/test_calc.py": broken})
    repo = Repo.clone(source, tmp_path / "work", env)
    baseline = run_baseline(repo, COMMAND, env, tmp_path / "work", 120)
    assert baseline.failing == ["tests/test_calc.py::test_scale"]
    scale_line = CALC.splitlines().index("    return [value * factor for value in values]") + 1
    assert scale_line not in {m.line for m, _ in candidates(repo, baseline, seed=0)}
    assert candidates(repo, baseline, seed=0)


def test_a_repository_without_tests_says_so(tmp_path, env):
    source = make_repo(tmp_path / "plain", {"tool.py": "print('hello')\n"})
    baseline = run_baseline(Repo.clone(source, tmp_path / "work", env), COMMAND, env, tmp_path / "work", 60)
    assert not baseline.usable or baseline.tests == 0
    assert baseline.note == "the test command found no tests"


def test_a_hanging_test_command_is_stopped_with_everything_it_started(tmp_path, env):
    started = time.monotonic()
    report = run_tests("sleep 30 & sleep 30", tmp_path, env, tmp_path / "r.xml", timeout=1.5)
    assert report.timed_out and report.exit_code is None and not report.passed
    assert time.monotonic() - started < 10


def test_a_bundle_that_does_not_clone_and_a_folder_that_is_no_repository(tmp_path, env):
    bad = tmp_path / "bad.bundle"
    bad.write_bytes(b"not a bundle at all")
    with pytest.raises(RepoError, match="does not clone"):
        Repo.clone(bad, tmp_path / "a", env)
    (tmp_path / "plain").mkdir()
    with pytest.raises(RepoError, match="not a git repository"):
        Repo.clone(tmp_path / "plain", tmp_path / "b", env)
    with pytest.raises(RepoError, match="does not exist"):
        Repo.clone(tmp_path / "missing", tmp_path / "c", env)


def test_without_pytest_cov_mutants_are_judged_by_the_whole_test_command(calc_repo, tmp_path, env):
    command = f"{COMMAND} -p no:pytest_cov"  # as if pytest-cov were not installed in the tests' Python
    repo = Repo.clone(calc_repo, tmp_path / "work", env)
    baseline = run_baseline(repo, command, env, tmp_path / "work", 120)
    assert baseline.tests == 6 and not baseline.coverage and baseline.whole_runs and baseline.covered == {}
    assert "without pytest-cov" in baseline.note and "whole test command" in baseline.note
    order = candidates(repo, baseline, seed=1)
    assert order and all(tests == [] for _, tests in order)  # no tests of their own: the whole command judges
    kept = select_mutants(repo, baseline, command, env, tmp_path / "a", 2, seed=1, timeout=60)
    assert 1 <= len(kept) <= 2 and all(1 <= len(k.failing) <= 20 for k in kept)
    again = select_mutants(repo, baseline, command, env, tmp_path / "b", 2, seed=1, timeout=60)
    assert [k.mutant.key for k in again] == [k.mutant.key for k in kept]  # the same seed, the same mutants


def test_selection_stops_after_a_fixed_number_of_candidates_and_errors_out_past_its_safety(calc_repo, tmp_path, env,
                                                                                             monkeypatch):
    from companion.moments import selection

    repo = Repo.clone(calc_repo, tmp_path / "work", env)
    baseline = run_baseline(repo, COMMAND, env, tmp_path / "work", 120)
    judged: list[str] = []
    real_judge = selection.judge

    def counting(mutant, *args, **kwargs):
        judged.append(mutant.key)
        return real_judge(mutant, *args, **kwargs)

    monkeypatch.setattr(selection, "judge", counting)
    kept = select_mutants(repo, baseline, COMMAND, env, tmp_path / "a", 50, seed=2, timeout=60, tries=3)
    assert len(judged) == 3 and len(kept) <= 3  # the cap, not the clock, ends the selection
    assert selection.max_tries(3, whole_runs=False) > selection.max_tries(3, whole_runs=True)
    with pytest.raises(selection.SelectionTimeout, match="safety limit"):
        select_mutants(repo, baseline, COMMAND, env, tmp_path / "b", 3, seed=2, timeout=60, budget_s=0.0)


UNITTEST_SUITE = '''import unittest

from calc import add, clamp


class CalcTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)

    def test_clamp(self):
        self.assertEqual(clamp(-4, 0, 10), 0)
'''


def test_a_unittest_suite_runs_under_pytest_and_a_unittest_command_is_a_clear_error(tmp_path, env):
    from companion.moments import plan as planning

    # unittest's file names (test*.py), which pytest's default patterns (test_*.py, *_test.py) miss
    source = make_repo(tmp_path / "ut", {"calc/__init__.py": CALC, "tests/__init__.py": "",
                                         "tests/tests.py": UNITTEST_SUITE})
    repo = Repo.clone(source, tmp_path / "work", env)
    baseline = run_baseline(repo, COMMAND, env, tmp_path / "work", 120)
    assert baseline.tests == 2 and baseline.failing == [] and baseline.covered, baseline.note
    assert baseline.pytest_options and "unittest-style files (tests/tests.py)" in baseline.note
    kept = select_mutants(repo, baseline, COMMAND, env, tmp_path / "a", 1, seed=0, timeout=60)
    assert kept and kept[0].failing[0].startswith("tests/tests.py::CalcTest::")
    # the moments type the node ids: pytest collects a file named on its command line whatever its name
    typed = run_tests(f"{COMMAND} {kept[0].failing[0]}", repo.base, env, tmp_path / "typed.xml", 60)
    assert typed.passed and typed.tests == 1

    plain = run_baseline(repo, "python -m unittest", env, tmp_path / "work", 120)
    assert not plain.usable and "only pytest-compatible commands are supported" in plain.note
    repo_plan = planning.RepoPlan(repo=repo, command="python -m unittest", baseline=plain, kept=[])
    moments = planning.build(repo_plan, 12, 0, lambda module: False, pty=False)
    categories = {m.category for m in moments}
    assert {"typo_command", "merge_conflict", "missing_module"} <= categories  # the other moments still run
    assert not categories & {"regression_hook", "syntax_error", "routine_tests_pass"}
    assert any(n.startswith("regression: skipped (needs a test run") for n in repo_plan.notes)
