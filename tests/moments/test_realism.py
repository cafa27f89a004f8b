"""Moments as they happen to developers: an import whose distribution has another name, a
regression saved alongside a harmless edit to another file; and the report's figures against
issue 20's targets (fixed over every regression, the p50 threshold)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from companion.moments import commands, scenarios
from companion.moments.driver import MomentRun
from companion.moments.mutants import Mutant
from companion.moments.report import THRESHOLDS, failed_thresholds, figures
from companion.moments.runner import Result
from companion.moments.scenarios import Expect, Moment
from companion.moments.scoring import Score
from companion.moments.selection import Kept
from tests.moments.conftest import CALC, TESTS, make_repo


def _matches(moment: Moment, text: str) -> bool:
    return any(re.search(pattern, text) for pattern in moment.expect.commands)


@pytest.mark.parametrize("module, dist", [("yaml", "PyYAML"), ("PIL", "Pillow"), ("dateutil", "python-dateutil"),
                                          ("sklearn", "scikit-learn"), ("cv2", "opencv-python")])
def test_a_missing_import_expects_its_distribution_by_name(module, dist, tmp_path):
    assert (module, dist) in commands.MODULES
    base = make_repo(tmp_path / "p", {"calc/__init__.py": CALC})
    moment = commands.missing_module("m-01", "p", base, lambda name: name != module, random.Random(0))
    assert moment is not None and f"import {module}" in moment.setup[0].text and dist in moment.expect.evidence
    assert _matches(moment, f"python -m pip install {dist}")
    assert _matches(moment, f"Run `pip install {dist.lower()}`.")  # pip reads names in any case
    assert not _matches(moment, f"python -m pip install {module}")  # the import name is not what pip installs


def test_a_lock_file_sync_counts_only_for_a_declared_distribution(tmp_path):
    base = make_repo(tmp_path / "p", {"calc/__init__.py": CALC, "uv.lock": "version = 1\n",
                                      "pyproject.toml": "[project]\nname = 'p'\nversion = '0'\n"})
    moment = commands.missing_module("m-01", "p", base, lambda name: name != "yaml", random.Random(0))
    assert _matches(moment, "uv add PyYAML") and not _matches(moment, "uv sync")
    declared = make_repo(tmp_path / "q", {"calc/__init__.py": CALC, "uv.lock": "version = 1\n",
                                          "pyproject.toml": "[project]\nname = 'q'\nversion = '0'\n"
                                                            "dependencies = ['PyYAML>=6']\n"})
    moment = commands.missing_module("m-01", "q", declared, lambda name: name != "yaml", random.Random(0))
    assert _matches(moment, "uv sync") and _matches(moment, "uv add pyyaml")


def test_a_regression_with_a_decoy_edit_saves_both_and_still_expects_the_mutated_line(tmp_path):
    base = make_repo(tmp_path / "p", {"calc/__init__.py": CALC, "calc/extra.py": "def twice(x):\n    return 2 * x\n",
                                      "tests/test_calc.py": TESTS})
    line = CALC.splitlines().index("    return a + b") + 1
    kept = Kept(Mutant("calc/__init__.py", line, "arithmetic_swap", "    return a + b", "    return a - b", "add"),
                ["tests/test_calc.py::test_add"], {"tests/test_calc.py::test_add": "assert -1 == 5"})
    decoy = scenarios.decoy_edit(base, ["calc/__init__.py", "calc/extra.py"], "calc/__init__.py", random.Random(1))
    assert decoy is not None and decoy[0] == "calc/extra.py" and decoy[1].count("\n") == 3  # one comment line more
    assert scenarios.decoy_edit(base, ["calc/__init__.py"], "calc/__init__.py", random.Random(1)) is None
    moment = scenarios.regression("p-01-hook", "p", kept, "python -m pytest -q", "hook", base, decoy)
    saves = [s.path for s in moment.steps if s.kind == "save"]
    assert saves == ["calc/__init__.py", "calc/extra.py"]  # the decoy last: the most recent change is not the slip
    assert moment.steps[-1].trigger and moment.steps[-1].kind == "type"
    assert (moment.expect.file, moment.expect.line) == ("calc/__init__.py", line)
    assert "calc/extra.py" not in moment.expect.evidence and "a comment added to calc/extra.py" in moment.note
    plain = scenarios.regression("p-01-hook", "p", kept, "python -m pytest -q", "hook", base)
    assert [s.path for s in plain.steps if s.kind == "save"] == ["calc/__init__.py"]


def _result(category: str, fixed: bool | None, latency: float = 1.0) -> Result:
    moment = Moment(id=category, repo="r", category=category, expect=Expect(failure=True))
    return Result(moment, MomentRun(moment=moment),
                  Score(surfaced=True, latency_s=latency, grounded=True, localized=True, fixed=fixed))


def test_fixed_all_counts_every_regression_and_the_p50_threshold():
    results = [_result("regression_hook", True, 0.5), _result("regression_pty", None, 1.0),
               _result("regression_hook", False, 2.0), _result("typo_command", None, 3.0)]
    shown = figures(results)
    assert shown["fixed"] == 0.5  # over the two edits tried
    assert shown["fixed_all"] == pytest.approx(0.333)  # over the three regressions
    assert figures([_result("typo_command", None)])["fixed_all"] is None
    assert THRESHOLDS["max_latency_p50"] == "latency_p50_s"
    report = {"latency_p50_s": shown["latency_p50_s"], "fixed": shown["fixed"]}
    assert failed_thresholds(report, {"max_latency_p50": 1.0}) == ["latency_p50_s 1.5 is above --max-latency-p50 1.0"]
    assert failed_thresholds(report, {"max_latency_p50": 1.5}) == []


def test_the_benchmark_holds_issue_20s_targets():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_moments", Path(__file__).parents[2] / "benchmarks" / "bench_moments.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert {key: bench.TARGETS[key] for key in ("helpful_recall", "grounded", "localized", "fixed", "false_alarm",
                                                "latency_p50_s", "latency_p95_s")} == {
        "helpful_recall": (">=", 0.8), "grounded": (">=", 0.8), "localized": (">=", 0.8), "fixed": (">=", 0.6),
        "false_alarm": ("<=", 0.05), "latency_p50_s": ("<=", 1.5), "latency_p95_s": ("<=", 5.0)}
