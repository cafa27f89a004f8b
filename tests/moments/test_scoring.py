"""Scoring, end to end: a regression moment on a real tiny repository, driven through a real daemon
(engine on, scripted backend and no rules, the reward gate at level 5) and a real hooked bash in a pty. A
known-good edit is surfaced, grounded, localized and, accepted through the daemon, fixes the
failing test; a generic proposal is none of these."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from companion import paths
from companion.config import Config
from companion.moments import scenarios
from companion.moments.driver import MomentRun, Reaper, Settings, drive
from companion.moments.repo import Repo, git_env, write_identity
from companion.moments.report import export_rows, figures
from companion.moments.runner import Options, Result, moment_config
from companion.moments.scenarios import Expect, Moment
from companion.moments.scoring import score
from companion.moments.selection import run_baseline, select_mutants

COMMAND = "python -m pytest -q"
GENERIC = {"purpose": "help", "thoughts": "the user works on tests", "task": "Help with the latest tests and benchmarking",
           "response": "Help with the latest tests and benchmarking", "operation": "explain"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    from tests.moments.conftest import CALC, TESTS, make_repo

    work = tmp_path_factory.mktemp("prepared")
    source = make_repo(work / "calc-project", {"calc/__init__.py": CALC, "tests/test_calc.py": TESTS})
    env = git_env(write_identity(work / "harness"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    repo = Repo.clone(source, work / "repo", env)
    baseline = run_baseline(repo, COMMAND, env, work / "repo", 120)
    kept = select_mutants(repo, baseline, COMMAND, env, work / "repo", 1, seed=3, timeout=60)
    assert kept, "no mutant of the tiny package made a test fail"
    return repo, kept[0]


def settings_for(reply: dict, tmp_path: Path) -> Settings:
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([reply]))
    config = moment_config(Config(), Options(repos=[], idle_s=30.0))
    config["agent"].update(backend="scripted", script=str(script))
    config["general"]["interruption_level"] = 5
    config["quickfix"]["enabled"] = False  # the scripted model's proposal is the one scored, not a rule's
    return Settings(config=config, test_python=Path(sys.executable).parent, models_dir=paths.models_dir(), idle_s=30.0,
                    step_timeout_s=60.0, command_timeout_s=60.0)


@pytest.mark.timeout(900)  # a daemon, a shell and two test runs: minutes on a loaded machine (the daemon alone may take 300 s)
def test_a_known_good_edit_is_surfaced_grounded_localized_and_fixes_the_tests(prepared, tmp_path):
    repo, kept = prepared
    mutant = kept.mutant
    patch = (f"--- a/{mutant.path}\n+++ b/{mutant.path}\n@@ -{mutant.line},1 +{mutant.line},1 @@\n"
             f"-{mutant.new}\n+{mutant.old}\n")
    good = {"purpose": "fix the regression", "thoughts": f"{kept.failing[0]} fails since {mutant.path} changed",
            "task": f"Restore line {mutant.line} of {mutant.path}", "response": patch, "operation": "edit",
            "path": mutant.path, "line": mutant.line}
    moment = scenarios.regression("calc-01-hook", repo.name, kept, COMMAND, "hook", repo.base)
    run = drive(moment, repo, tmp_path / "moment", settings_for(good, tmp_path), Reaper())
    assert run.error == ""
    assert run.trigger["data"]["command"] == moment.steps[-1].text and run.trigger["data"]["exit_code"] == 1
    assert "failed" in run.output  # what the shell printed for the typed test run
    result = score(run)
    assert result.surfaced and result.latency_s is not None and result.latency_s >= 0
    assert result.grounded and result.localized
    assert run.fix == {"proposal": run.proposals[0]["id"], "applied": True, "passed": True, "still_failing": [],
                       "exit_code": 0}
    assert result.fixed is True
    (row,) = export_rows([Result(moment, run, result)])
    assert row["label"] == "accepted" and row["valid"] and row["obs"] and row["pred_task"] == good["task"]


@pytest.mark.timeout(900)  # a daemon, a shell and two test runs: minutes on a loaded machine (the daemon alone may take 300 s)
def test_a_generic_proposal_is_neither_grounded_nor_localized(prepared, tmp_path):
    repo, kept = prepared
    moment = scenarios.regression("calc-02-hook", repo.name, kept, COMMAND, "hook", repo.base)
    run = drive(moment, repo, tmp_path / "moment", settings_for(GENERIC, tmp_path), Reaper())
    assert run.error == "" and run.proposals, "the scripted agent always proposes"
    result = score(run)
    assert not result.grounded and not result.localized and result.fixed is None
    rows = list(export_rows([Result(moment, run, result)]))  # one per trigger (the test report, the command)
    assert rows and all(not r["grounded"] and not r["localized"] and r["label"] == "rejected" for r in rows)


def _run_with(moment: Moment, proposals: list[dict]) -> MomentRun:
    trigger = {"ts": 99.5, "data": {"command": "git checkout release", "exit_code": 1, "duration_s": 0.5}}
    return MomentRun(moment=moment, trigger=trigger, proposals=proposals, started_ts=99.0)


def test_places_commands_false_alarms_and_the_figures():
    conflict = Moment(id="m", repo="r", category="merge_conflict",
                      expect=Expect(failure=True, file="pkg/core.py", line=40, evidence=["pkg/core.py", "git merge topic"]))
    near = {"task": "Resolve the conflict", "response": "Open pkg/core.py:42 and keep one side", "ts": 101.0,
            "surfaced": True}
    far = {**near, "response": "Open pkg/core.py:60 and keep one side"}
    assert score(_run_with(conflict, [near])).localized
    assert not score(_run_with(conflict, [far])).localized
    assert score(_run_with(conflict, [far])).grounded
    kept_back = {**near, "surfaced": False}
    assert not score(_run_with(conflict, [kept_back])).surfaced
    earlier = {**near, "ts": 99.0}  # before the trigger: not an answer to it
    assert not score(_run_with(conflict, [earlier])).surfaced

    switch = Moment(id="s", repo="r", category="dirty_switch",
                    expect=Expect(failure=True, commands=[r"\bgit stash\b"], evidence=["git checkout release"]))
    stash = {"task": "Stash your work first", "response": "git stash && git checkout release && git stash pop",
             "ts": 102.0, "surfaced": True}
    assert score(_run_with(switch, [stash])).localized and score(_run_with(switch, [stash])).grounded
    assert score(_run_with(switch, [stash])).latency_s == 2.0

    routine = Moment(id="q", repo="r", category="routine_commit", expect=Expect(failure=False))
    quiet, noisy = _run_with(routine, []), _run_with(routine, [stash])
    assert not score(quiet).false_alarm and score(noisy).false_alarm
    results = [Result(m.moment, m, score(m)) for m in (_run_with(switch, [stash]), _run_with(conflict, [far]),
                                                      quiet, noisy)]
    shown = figures(results)
    assert shown["helpful"] == 0.5 and shown["false_alarm"] == 0.5 and shown["surfaced"] == 1.0
    assert shown["latency_p50_s"] == 2.0  # of 2.0, 1.0 and 2.0 s
