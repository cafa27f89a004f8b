"""The plain shell hook records no output: the rules still find the help from the workspace itself
(the script's imports, git's state, the files saved just before), on real commands."""

from __future__ import annotations

from pathlib import Path

from companion.events import Event
from tests.quickfix.conftest import PYTHON, by_rule, candidates, git_repo, hook_event, sh
from tests.quickfix.test_git_rules import clones, conflicted  # noqa: F401  (fixture)


def test_a_missing_module_is_found_from_the_scripts_imports(ws: Path) -> None:
    (ws / "scripts").mkdir()
    (ws / "scripts" / "report.py").write_text('"""Report."""\nimport os\nimport json\nimport pytomlpp\n')
    (ws / "requirements.txt").write_text("pytomlpp\n")
    event = hook_event(ws, f"{PYTHON} scripts/report.py")
    assert event.data["exit_code"] == 1 and "evidence" not in event.data
    best = by_rule(candidates(ws, event), "imports.python_missing")[0]
    assert best.response == f"{PYTHON} -m pip install -r requirements.txt" and best.line == 1
    assert "import pytomlpp" in best.evidence["output_lines"][0]


def test_a_script_whose_imports_all_exist_gets_no_install(ws: Path) -> None:
    (ws / "fail.py").write_text("import json\nraise SystemExit(3)\n")
    assert not by_rule(candidates(ws, hook_event(ws, f"{PYTHON} fail.py")), "imports.python_missing")


def test_push_without_upstream_is_found_from_gits_state(clones) -> None:
    first, _ = clones
    sh(first, "git switch -q -c fix-parsing", check=True)
    best = by_rule(candidates(first, hook_event(first, "git push")), "git.push_upstream")[0]
    assert best.response == "git push --set-upstream origin fix-parsing"


def test_a_conflict_is_found_from_gits_unmerged_paths(tmp_path: Path) -> None:
    repo = conflicted(tmp_path)
    best = by_rule(candidates(repo, hook_event(repo, "git merge topic")), "conflicts.open_marker")[0]
    assert (best.path, best.line) == ("app.py", 2)


def test_changes_in_the_way_are_found_from_the_diff(clones) -> None:
    first, _ = clones
    sh(first, "git switch -q -c release && echo changed > a.txt && git commit -qam rel && git switch -q main",
       check=True)
    (first / "a.txt").write_text("mine\n")
    event = hook_event(first, "git checkout release")
    assert event.data["exit_code"] == 1
    best = by_rule(candidates(first, event), "git.changes_in_the_way")[0]
    assert best.response.startswith("git stash push") and best.evidence["files"] == ["a.txt"]


def test_a_syntax_error_in_a_file_saved_just_before_is_found(ws: Path) -> None:
    (ws / "pkg").mkdir()
    (ws / "pkg" / "__init__.py").write_text("")
    (ws / "pkg" / "mod.py").write_text("def f(x)\n    return x\n")
    (ws / "test_mod.py").write_text("from pkg.mod import f\n\n\ndef test_f():\n    assert f(1) == 1\n")
    saved = Event(source="file", kind="file.saved", workspace=str(ws), data={"path": "pkg/mod.py"})
    event = hook_event(ws, f"{PYTHON} -m pytest -q -p no:cacheprovider test_mod.py")
    assert event.data["exit_code"] != 0
    best = candidates(ws, event, recent=[saved])[0]
    assert best.rule == "traceback.saved_syntax" and (best.path, best.line) == ("pkg/mod.py", 1)
    assert best.task == "Fix the SyntaxError in pkg/mod.py line 1"


def test_a_typo_is_corrected_without_output(ws: Path) -> None:
    git_repo(ws)
    best = by_rule(candidates(ws, hook_event(ws, "gti status")), "commands.not_found")[0]
    assert best.response == "git status"


def test_a_tests_failed_event_with_only_test_ids_ranks_the_uncommitted_change_by_module(ws: Path) -> None:
    git_repo(ws)
    (ws / "pkg").mkdir()
    (ws / "pkg" / "__init__.py").write_text("")
    (ws / "pkg" / "scales.py").write_text("def double(x):\n    return 2 * x\n")
    (ws / "pkg" / "other.py").write_text("A = 1\n")
    (ws / "tests").mkdir()
    (ws / "tests" / "test_scales.py").write_text("from pkg.scales import double\n\n\ndef test_double():\n"
                                                 "    assert double(2) == 4\n")
    sh(ws, "git add -A && git commit -qm base", check=True)
    (ws / "pkg" / "scales.py").write_text("def double(x):\n    return 3 * x\n")
    (ws / "pkg" / "other.py").write_text("A = 2\n")
    assert sh(ws, f"{PYTHON} -m pytest -q -p no:cacheprovider tests").returncode == 1
    event = Event(source="tests", kind="tests.failed", workspace=str(ws),
                  data={"tests": ["tests/test_scales.py::test_double"], "count": 1, "runner": "pytest"})
    best = candidates(ws, event, reason="tests_failing")[0]
    assert best.rule == "regression.revert" and (best.path, best.line) == ("pkg/scales.py", 2)


def test_the_uncommitted_change_in_a_module_the_failing_test_imports_is_the_suspect(ws: Path) -> None:
    git_repo(ws)
    (ws / "fmt").mkdir()
    (ws / "fmt" / "__init__.py").write_text("def line(width):\n    return '=' * width\n")
    (ws / "test").mkdir()
    (ws / "test" / "common.py").write_text("def check(a, b):\n    assert a == b\n")
    (ws / "test" / "test_output.py").write_text("from fmt import line\nfrom common import check\n\n\n"
                                                "def test_line():\n    check(line(3), '===')\n")
    sh(ws, "git add -A && git commit -qm base", check=True)
    (ws / "fmt" / "__init__.py").write_text("def line(width):\n    return '=' * (width - 1)\n")
    event = Event(source="tests", kind="tests.failed", workspace=str(ws),
                  data={"evidence": {"failures": [{"test": "test/test_output.py::test_line", "message": "AssertionError",
                                                   "path": "test/common.py", "line": 2}]}})
    best = candidates(ws, event, reason="tests_failing")[0]
    assert best.rule == "regression.revert" and (best.path, best.line) == ("fmt/__init__.py", 2)
