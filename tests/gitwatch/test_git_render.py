"""One English sentence per git event kind, in ProactiveBench's observation style."""

from __future__ import annotations

import pytest

from companion.events import Event
from companion.render import known_kinds, render

KINDS = ("git.commit", "git.branch", "git.operation", "git.conflict", "git.stash", "git.refs", "git.dirty")


def sentence(kind: str, **data) -> str:
    return render(Event(source="git", kind=kind, data=data))


def test_every_git_event_kind_has_a_renderer() -> None:
    assert set(KINDS) <= set(known_kinds())


def test_commit_sentence_like_the_design_example() -> None:
    files = [{"path": "api/auth.py", "added": 30, "removed": 10}, {"path": "api/session.py", "added": 8, "removed": 2},
             {"path": "tests/test_auth.py", "added": 2, "removed": 0}]
    text = sentence("git.commit", hash="3f2a1bc" + "0" * 33, short="3f2a1bc", summary="Fix token refresh",
                    author="Ada", branch="main", files=files, files_changed=3, insertions=40, deletions=12,
                    origin="commit", merge=False)
    assert text == ('The user committed 3f2a1bc "Fix token refresh" on `main`, changing 3 files (+40 −12): '
                    "`api/auth.py`, `api/session.py` and `tests/test_auth.py`.")


@pytest.mark.parametrize("data, expected", [
    ({"operation": "merge", "status": "started", "branch": "main", "merging": ["feature/login"]},
     "The user started a merge of `feature/login` into `main`."),
    ({"operation": "rebase", "status": "started", "branch": "topic", "onto": "main", "interactive": True, "total": 4},
     "The user started an interactive rebase of `topic` onto `main` (4 commits to replay)."),
    ({"operation": "rebase", "status": "finished", "outcome": "aborted", "branch": "topic", "onto": "main"},
     "The user aborted the rebase of `topic` onto `main`."),
    ({"operation": "cherry-pick", "status": "in progress", "branch": "main", "short": "9c0d1e2", "summary": "Fix it"},
     'A cherry-pick of 9c0d1e2 "Fix it" onto `main` was already in progress when companion started watching.'),
    ({"operation": "revert", "status": "finished", "outcome": "completed", "branch": "main", "short": "9c0d1e2"},
     "The user completed the revert of 9c0d1e2 on `main`."),
    ({"operation": "bisect", "status": "finished", "outcome": "found", "branch": "main", "first_bad": "abc1234",
      "first_bad_summary": "Break login"},
     'The user finished a bisect on `main`; the first bad commit is abc1234 "Break login".'),
])
def test_operation_sentences(data: dict, expected: str) -> None:
    assert sentence("git.operation", **data) == expected


def test_conflict_sentences() -> None:
    assert sentence("git.conflict", status="stopped", operation="merge", ours="main", theirs="feature/login",
                    branch="main", files=["api/auth.py", "api/session.py"]) == (
        "A merge of `feature/login` into `main` stopped with conflicts in `api/auth.py` and `api/session.py`.")
    assert sentence("git.conflict", status="stopped", operation="rebase", ours="main", theirs="3f2a1bc",
                    theirs_summary="Refresh tokens", branch="topic", files=["a.py"]) == (
        'A rebase of `topic` onto `main` stopped with conflicts in `a.py` while applying 3f2a1bc "Refresh tokens".')
    assert sentence("git.conflict", status="stopped", operation=None, ours="main", branch="main",
                    files=["a.py", "b.py", "c.py", "d.py", "e.py"]) == (
        "The working tree on `main` has unresolved conflicts in `a.py`, `b.py`, `c.py`, `d.py` and 1 more.")
    assert sentence("git.conflict", status="resolved", operation="merge", ours="main", theirs="dev", branch="main",
                    files=["a.py"]) == "The user resolved the conflicts of the merge of `dev` into `main` in `a.py`."


def test_refs_stash_and_dirty_sentences() -> None:
    refs = [{"ref": "origin/main", "change": "fast-forward", "from_short": "3f2a1bc", "to_short": "9c0d1e2", "ahead": 4},
            {"ref": "origin/old", "change": "deleted", "from_short": "1111111"},
            {"ref": "origin/wip", "change": "forced", "from_short": "2222222", "to_short": "3333333", "ahead": 1,
             "behind": 2},
            {"ref": "v2.0", "change": "created", "to_short": "9c0d1e2"}]
    assert sentence("git.refs", reason="fetch", remotes=["origin"], refs=refs, more=2) == (
        "The user fetched from `origin`: `origin/main` moved 3f2a1bc → 9c0d1e2 (4 new commits), `origin/old` was "
        "deleted (it was at 1111111) and `origin/wip` was rewritten 2222222 → 3333333 (1 new, 2 commits dropped) "
        "(and 3 more refs).")
    assert sentence("git.refs", reason="tag", refs=[refs[3]]) == "The user tagged: `v2.0` was created at 9c0d1e2."
    assert sentence("git.stash", action="push", count=2, message="WIP on main: 3f2a1bc Fix", branch="main") == (
        'The user stashed their changes on `main` ("WIP on main: 3f2a1bc Fix"); 2 stashes saved.')
    assert sentence("git.stash", action="clear", count=0) == "The user cleared all stashes."
    assert sentence("git.dirty", files=7, modified=4, added=1, untracked=2, branch="main", seconds=2040,
                    names=["a.py", "b.py", "c.py", "d.py", "e.py"]) == (
        "The user has kept 7 files uncommitted on `main` for 34 minutes (4 modified, 1 added, 2 untracked): "
        "`a.py`, `b.py`, `c.py`, `d.py`, `e.py` and 2 more.")


def test_branch_sentences() -> None:
    assert sentence("git.branch", **{"from": "main", "to": "feature/login", "detached": False, "dirty": True,
                                     "dirty_summary": {"files": 3, "names": ["a.py", "b.py", "c.py"]}}) == (
        "The user switched from `main` to `feature/login` with uncommitted changes in 3 files "
        "(`a.py`, `b.py` and `c.py`).")
    assert sentence("git.branch", **{"from": "main", "to": "9c0d1e2", "detached": True, "short": "9c0d1e2",
                                     "summary": "Release 2.0", "at": "v2.0"}) == (
        'The user checked out 9c0d1e2 "Release 2.0" (`v2.0`) as a detached HEAD, coming from `main`.')


def test_malformed_data_still_gives_a_sentence() -> None:
    for kind in KINDS:
        text = sentence(kind, files="not a list", count="many")
        assert text.endswith(".") and text[0].isupper()
