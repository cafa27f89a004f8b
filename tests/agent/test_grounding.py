"""Grounding: a model's own task is kept only if it names something in the evidence and every path it
names exists. The evidence comes from a real failing run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from companion.agent import grounding
from companion.agent.prompt import approx_tokens, build_messages


@pytest.fixture
def failure(tmp_path: Path) -> tuple[Path, dict]:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "settings.py").write_text("import json\n\n\ndef load_settings(text):\n    return json.loads(text)['port']\n")
    (tmp_path / "run.py").write_text("from app.settings import load_settings\nprint(load_settings('{}'))\n")
    command = f"{sys.executable} run.py"
    done = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1
    data = {"command": command, "cwd": str(tmp_path), "exit_code": 1,
            "evidence": {"output": {"tail": done.stderr}}}
    return tmp_path, data


@pytest.mark.parametrize("task, response, path", [
    ("Help with this task right now.", "", None),
    ("Help with the latest tests and benchmarking", "Run the tests again.", None),
    ("Provide a list of recent CRLF-only Python code with help.", "", None),
    ("Fix the error", "Check the settings and try again.", None),
])
def test_generic_tasks_are_dropped(failure, task: str, response: str, path: str | None) -> None:
    root, data = failure
    verdict = grounding.check(task, response, path, grounding.evidence_terms(data), root, root)
    assert not verdict.ok and verdict.reason.startswith("generic")


@pytest.mark.parametrize("task, response, path, named", [
    ("Handle the missing 'port' key in load_settings", "Use .get('port', 8000).", "app/settings.py", "load_settings"),
    ("Open app/settings.py line 5 where the KeyError is raised", "", None, "app/settings.py"),
    ("Explain the KeyError from settings.py", "json.loads returns a dict without 'port'.", None, "settings.py"),
])
def test_tasks_that_name_the_evidence_are_kept(failure, task: str, response: str, path: str | None, named: str) -> None:
    root, data = failure
    verdict = grounding.check(task, response, path, grounding.evidence_terms(data), root, root)
    assert verdict.ok and named in verdict.named


def test_a_task_naming_a_file_that_does_not_exist_is_dropped(failure) -> None:
    root, data = failure
    verdict = grounding.check("Fix load_settings in app/config.py", "", "app/config.py",
                              grounding.evidence_terms(data), root, root)
    assert not verdict.ok and verdict.reason == "names app/config.py, which does not exist"


def test_the_evidence_and_candidates_fit_the_prompts_budget(failure) -> None:
    _root, data = failure
    evidence = {"output": {"tail": "noise line\n" * 5000 + data["evidence"]["output"]["tail"]},
                "failures": [{"test": "tests/test_s.py::test_port", "message": "KeyError: 'port'",
                              "path": "tests/test_s.py", "line": 3}],
                "suspects": [{"path": "app/settings.py", "line": 5, "removed": ["return json.loads(text).get('port')"],
                              "added": ["return json.loads(text)['port']"]}]}
    candidates = [{"task": "Revert the change to app/settings.py line 5 that broke test_port", "operation": "edit",
                   "response": "--- a/app/settings.py\n+++ b/app/settings.py\n", "path": "app/settings.py", "line": 5}]
    messages = build_messages([{"time": "t", "event": "The user ran `python run.py`; it failed."}],
                              evidence=evidence, candidates=candidates, max_evidence_tokens=200)
    turn = messages[-1]["content"]
    evidence_part = turn.split("Evidence of the latest event:\n")[1].split("\n\nCandidate help:")[0]
    assert approx_tokens(evidence_part) <= 200
    assert evidence_part.startswith("- failed: tests/test_s.py::test_port: KeyError: 'port' (tests/test_s.py:3)")
    assert "changed since it last passed: app/settings.py:5" in evidence_part
    assert "KeyError: 'port'" in evidence_part.split("output (last lines):")[1]  # the output's end, not its noise
    assert "1. [edit] Revert the change to app/settings.py line 5 that broke test_port at app/settings.py:5" in turn
    plain = build_messages([{"time": "t", "event": "x"}])[-1]["content"]
    assert "Evidence" not in plain and "Candidate" not in plain  # the trained prompt format is unchanged
