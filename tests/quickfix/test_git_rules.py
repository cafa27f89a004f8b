"""The git rules on real git: a local bare remote, two clones, real conflicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.events import Event
from tests.quickfix.conftest import by_rule, candidates, command_event, git_repo, sh


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path]:
    remote = tmp_path / "remote.git"
    sh(tmp_path, f"git init -q --bare -b main {remote}", check=True)
    first = git_repo(tmp_path / "first")
    (first / "a.txt").write_text("one\n")
    sh(first, f"git add a.txt && git commit -qm one && git remote add origin {remote} && git push -q -u origin main",
       check=True)
    sh(tmp_path, f"git clone -q {remote} second", check=True)
    second = tmp_path / "second"
    sh(second, "git config user.name t && git config user.email t@example.com", check=True)
    return first, second


def test_push_without_upstream_uses_gits_own_hint(clones: tuple[Path, Path]) -> None:
    first, _ = clones
    sh(first, "git switch -q -c feature", check=True)
    event = command_event(first, "git push")
    assert event.data["exit_code"] != 0
    best = by_rule(candidates(first, event), "git.push_upstream")[0]
    assert best.response == "git push --set-upstream origin feature"


def test_a_mistyped_git_command_takes_gits_suggestion(clones: tuple[Path, Path]) -> None:
    first, _ = clones
    best = candidates(first, command_event(first, "git stauts"))[0]
    assert best.rule == "git.did_you_mean" and best.response == "git status"


def test_a_rejected_push_pulls_with_rebase_first(clones: tuple[Path, Path]) -> None:
    first, second = clones
    (second / "b.txt").write_text("two\n")
    sh(second, "git add b.txt && git commit -qm two && git push -q", check=True)
    (first / "c.txt").write_text("three\n")
    sh(first, "git add c.txt && git commit -qm three", check=True)
    event = command_event(first, "git push")
    best = by_rule(candidates(first, event), "git.push_rejected")[0]
    assert best.response == "git pull --rebase && git push"
    assert any("rejected" in line for line in best.evidence["output_lines"])


def test_checkout_of_a_missing_branch_offers_the_closest(clones: tuple[Path, Path]) -> None:
    first, _ = clones
    sh(first, "git branch feature-login && git branch release", check=True)
    best = by_rule(candidates(first, command_event(first, "git checkout featur-login")), "git.missing_branch")[0]
    assert best.response == "git checkout feature-login"
    best = by_rule(candidates(first, command_event(first, "git switch relase")), "git.missing_branch")[0]
    assert best.response == "git switch release"


def test_local_changes_in_the_way_of_a_switch_are_stashed_by_name(clones: tuple[Path, Path]) -> None:
    first, _ = clones
    sh(first, "git switch -q -c other && echo changed > a.txt && git commit -qam other && git switch -q main",
       check=True)
    (first / "a.txt").write_text("mine\n")
    event = command_event(first, "git switch other")
    found = by_rule(candidates(first, event), "git.changes_in_the_way")
    assert found[0].response == "git stash push -m 'before git switch other' -- a.txt && git switch other"
    assert found[0].evidence["files"] == ["a.txt"] and found[0].path == "a.txt"
    assert any(c.response.startswith("git commit") for c in found)


def test_a_switch_that_carried_work_along_names_the_files(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r")
    event = Event(source="git", kind="git.branch", workspace=str(repo),
                  data={"from": "main", "to": "feature", "dirty": True,
                        "dirty_summary": {"files": 2, "modified": 2, "names": ["app.py", "lib/util.py"]}})
    best = candidates(repo, event, reason="dirty_branch_switch")[0]
    assert best.rule == "git.dirty_switch" and best.response == "git stash push -m 'work from main' -- app.py lib/util.py"


def test_a_commit_on_a_detached_head_is_kept_on_a_branch(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "r")
    sh(repo, "echo 1 > f && git add f && git commit -qm one && git checkout -q --detach && echo 2 > f "
             "&& git commit -qam two", check=True)
    short = sh(repo, "git rev-parse --short HEAD").stdout.strip()
    event = Event(source="git", kind="git.commit", workspace=str(repo),
                  data={"short": short, "detached": True, "branch": None, "summary": "two"})
    best = candidates(repo, event, reason="detached_commit")[0]
    assert best.response == f"git branch keep-{short[:7]} {short}"
    assert sh(repo, best.response).returncode == 0  # git's own answer to it: the branch now holds the commit


def conflicted(tmp_path: Path) -> Path:
    repo = git_repo(tmp_path / "c")
    (repo / "app.py").write_text("def greet():\n    return 'hello'\n")
    (repo / "notes.md").write_text("notes\n")
    sh(repo, "git add . && git commit -qm base && git switch -q -c topic", check=True)
    (repo / "app.py").write_text("def greet():\n    return 'hi there'\n")
    (repo / "notes.md").write_text("topic notes\n")
    sh(repo, "git commit -qam 'Friendlier greeting' && git switch -q main", check=True)
    (repo / "app.py").write_text("def greet():\n    return 'HELLO'\n")
    (repo / "notes.md").write_text("main notes\n")
    sh(repo, "git commit -qam 'Shout the greeting'", check=True)
    return repo


def test_a_merge_conflict_opens_the_first_marker_with_both_sides(tmp_path: Path) -> None:
    repo = conflicted(tmp_path)
    event = command_event(repo, "git merge topic")
    assert "CONFLICT (content)" in event.data["evidence"]["output"]["tail"]
    best = by_rule(candidates(repo, event), "conflicts.open_marker")[0]
    assert (best.path, best.line, best.operation) == ("app.py", 2, "open")
    assert best.evidence["conflicted_files"] == ["app.py", "notes.md"]
    assert any("Shout the greeting" in c for c in best.evidence["ours"])
    assert any("Friendlier greeting" in c for c in best.evidence["theirs"])
    watcher_event = Event(source="git", kind="git.conflict", workspace=str(repo),
                          data={"status": "stopped", "operation": "merge", "files": ["app.py", "notes.md"]})
    assert by_rule(candidates(repo, watcher_event, reason="merge_conflict"), "conflicts.open_marker")[0].path == "app.py"


def test_once_the_last_marker_is_gone_the_continue_step_is_offered(tmp_path: Path) -> None:
    repo = conflicted(tmp_path)
    sh(repo, "git merge topic")
    (repo / "app.py").write_text("def greet():\n    return 'hi there'\n")
    saved = Event(source="file", kind="file.saved", workspace=str(repo), data={"path": "app.py"})
    best = candidates(repo, saved, reason="conflict_edited")[0]
    assert best.operation == "open" and best.path == "notes.md"  # the next file that still has markers
    (repo / "notes.md").write_text("both notes\n")
    best = candidates(repo, saved, reason="conflict_edited")[0]
    assert best.response == "git add app.py notes.md && git merge --continue"
    assert sh(repo, best.response).returncode == 0 and "Merge" in sh(repo, "git log -1 --format=%s").stdout


def test_a_rebase_conflict_continues_the_rebase(tmp_path: Path) -> None:
    repo = conflicted(tmp_path)
    sh(repo, "git switch -q topic")
    event = command_event(repo, "git rebase main")
    best = by_rule(candidates(repo, event), "conflicts.open_marker")[0]
    assert best.path == "app.py" and best.evidence["operation"] == "rebase"
    (repo / "app.py").write_text("def greet():\n    return 'HI THERE'\n")
    (repo / "notes.md").write_text("merged notes\n")
    saved = Event(source="file", kind="file.saved", workspace=str(repo), data={"path": "notes.md"})
    assert candidates(repo, saved, reason="conflict_edited")[0].response == \
        "git add app.py notes.md && git rebase --continue"
