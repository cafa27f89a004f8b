"""The git watcher on a real repository, driven with the real `git` command: each test does what a
user does and checks the events (and their sentences) the user would see."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git
from tests.gitwatch.conftest import commit_file, git_fails

from companion.render import render


def test_commit_reports_hash_summary_author_and_files(repo: Path, watch) -> None:
    recorder = watch(repo)
    (repo / "README.md").write_text("# demo\n\nMore words.\nAnd more.\n")
    (repo / "auth.py").write_text("def refresh():\n    return 1\n")
    git(repo, "add", "README.md", "auth.py")
    git(repo, "commit", "-qm", "Fix token refresh")
    head = git(repo, "rev-parse", "HEAD").strip()

    event = recorder.wait("git.commit")
    data = event.to_dict()["data"]
    assert data["hash"] == head
    assert head.startswith(data["short"])
    assert data["summary"] == "Fix token refresh"
    assert data["author"] == "Test User"
    assert data["branch"] == "main"
    assert data["files_changed"] == 2
    assert {f["path"]: (f["added"], f["removed"]) for f in data["files"]} == {"README.md": (3, 0), "auth.py": (2, 0)}
    assert (data["insertions"], data["deletions"]) == (5, 0)
    assert render(event) == (f'The user committed {data["short"]} "Fix token refresh" on `main`, '
                             "changing 2 files (+5 −0): `README.md` and `auth.py`.")
    recorder.settle()
    assert [e.kind for e in recorder.events] == ["git.commit"], recorder.texts()


def test_two_commits_between_polls_and_an_amend(repo: Path, watch) -> None:
    recorder = watch(repo, poll=0.5)
    commit_file(repo, "a.txt", "a\n", "First")
    commit_file(repo, "b.txt", "b\n", "Second")
    recorder.wait("git.commit", lambda d: d["summary"] == "Second")
    assert [e.data["summary"] for e in recorder.of_kind("git.commit")] == ["First", "Second"]
    git(repo, "commit", "-q", "--amend", "-m", "Second, better")
    amended = recorder.wait("git.commit", lambda d: d["amend"])
    assert amended.data["summary"] == "Second, better"
    assert render(amended).startswith("The user amended the last commit on `main`")


def test_branch_switch_clean_then_dirty(repo: Path, watch) -> None:
    git(repo, "branch", "feature/login")
    recorder = watch(repo)
    git(repo, "checkout", "-q", "feature/login")
    clean = recorder.wait("git.branch")
    assert clean.data["from"] == "main" and clean.data["to"] == "feature/login"
    assert clean.data["dirty"] is False and clean.data["detached"] is False
    assert render(clean) == "The user switched from `main` to `feature/login`; the working tree is clean."

    recorder.clear()
    (repo / "README.md").write_text("edited but not committed\n")
    (repo / "notes.txt").write_text("new file\n")
    git(repo, "checkout", "-q", "main")
    dirty = recorder.wait("git.branch")
    assert dirty.data["to"] == "main" and dirty.data["dirty"] is True
    summary = dirty.to_dict()["data"]["dirty_summary"]
    assert (summary["modified"], summary["untracked"], summary["files"]) == (1, 1, 2)
    assert sorted(summary["names"]) == ["README.md", "notes.txt"]
    assert render(dirty) == ("The user switched from `feature/login` to `main` with uncommitted changes in 2 files "
                             "(`README.md` and `notes.txt`).")


def test_new_branch_is_part_of_the_switch(repo: Path, watch) -> None:
    recorder = watch(repo)
    git(repo, "checkout", "-qb", "fix/typo")
    event = recorder.wait("git.branch")
    assert event.data["created"] is True
    assert render(event) == "The user created branch `fix/typo` from `main` and switched to it; the working tree is clean."
    recorder.settle()
    assert not recorder.of_kind("git.refs"), recorder.texts()


def test_detached_checkout_and_back(repo: Path, watch) -> None:
    first = git(repo, "rev-parse", "HEAD").strip()
    commit_file(repo, "a.txt", "a\n", "Second")
    recorder = watch(repo)
    git(repo, "checkout", "-q", first)
    event = recorder.wait("git.branch")
    assert event.data["detached"] is True and event.data["commit"] == first and event.data["from"] == "main"
    assert render(event) == (f'The user checked out {event.data["short"]} "Initial commit" as a detached HEAD, '
                             "coming from `main`; the working tree is clean.")
    commit_file(repo, "b.txt", "b\n", "Experiment")
    detached_commit = recorder.wait("git.commit")
    assert detached_commit.data["branch"] is None
    assert "on a detached HEAD" in render(detached_commit)
    git(repo, "checkout", "-q", "main")
    back = recorder.wait("git.branch", lambda d: d["to"] == "main")
    assert back.data["from_detached"] is True
    git(repo, "tag", "v1.0", first)
    git(repo, "checkout", "-q", "v1.0")
    tagged = recorder.wait("git.branch", lambda d: d.get("at") == "v1.0")
    assert render(tagged).startswith(f'The user checked out {tagged.data["short"]} "Initial commit" (`v1.0`) as a detached HEAD')


def test_merge_with_conflicts_then_resolved(diverged: Path, watch) -> None:
    repo = diverged
    recorder = watch(repo)
    git_fails(repo, "merge", "feature/login")
    conflict = recorder.wait("git.conflict")
    data = conflict.to_dict()["data"]
    assert data["files"] == ["api/auth.py", "api/session.py"]
    assert (data["operation"], data["ours"], data["theirs"]) == ("merge", "main", "feature/login")
    assert render(conflict) == ("A merge of `feature/login` into `main` stopped with conflicts in "
                                "`api/auth.py` and `api/session.py`.")
    started = recorder.wait("git.operation", lambda d: d["status"] == "started")
    assert started.data["operation"] == "merge"
    assert render(started) == "The user started a merge of `feature/login` into `main`."

    (repo / "api/auth.py").write_text("token = 4\n")
    (repo / "api/session.py").write_text("session = 4\n")
    git(repo, "add", "api")
    git(repo, "commit", "-q", "--no-edit")
    recorder.wait("git.operation", lambda d: d["status"] == "finished")
    kinds = [(e.kind, e.data.get("status")) for e in recorder.events]
    assert kinds == [("git.operation", "started"), ("git.conflict", "stopped"), ("git.conflict", "resolved"),
                     ("git.commit", None), ("git.operation", "finished")], recorder.texts()
    finished = recorder.of_kind("git.operation")[-1]
    assert finished.data["outcome"] == "completed"
    assert render(finished) == "The user completed the merge of `feature/login` into `main`."
    assert recorder.of_kind("git.commit")[0].data["merge"] is True


def test_merge_aborted(diverged: Path, watch) -> None:
    recorder = watch(diverged)
    git_fails(diverged, "merge", "feature/login")
    recorder.wait("git.conflict")
    git(diverged, "merge", "--abort")
    finished = recorder.wait("git.operation", lambda d: d["status"] == "finished")
    assert finished.data["outcome"] == "aborted"
    assert render(finished) == "The user aborted the merge of `feature/login` into `main`."
    assert [e.data["status"] for e in recorder.of_kind("git.conflict")] == ["stopped"]


def test_rebase_in_progress_with_conflict_then_continue(diverged: Path, watch) -> None:
    repo = diverged
    git(repo, "checkout", "-q", "feature/login")
    recorder = watch(repo)
    git_fails(repo, "rebase", "main")
    started = recorder.wait("git.operation", lambda d: d["status"] == "started")
    assert (started.data["operation"], started.data["branch"], started.data["onto"]) == ("rebase", "feature/login", "main")
    assert started.data["interactive"] is False
    conflict = recorder.wait("git.conflict")
    assert conflict.to_dict()["data"]["files"] == ["api/auth.py", "api/session.py"]
    assert conflict.data["theirs_summary"] == "Refresh tokens on login"
    assert render(conflict).startswith("A rebase of `feature/login` onto `main` stopped with conflicts in "
                                       "`api/auth.py` and `api/session.py` while applying ")
    recorder.settle()
    assert not recorder.of_kind("git.branch"), "a rebase detaching HEAD is not a branch switch"

    (repo / "api/auth.py").write_text("token = 5\n")
    (repo / "api/session.py").write_text("session = 5\n")
    git(repo, "add", "api")
    result = __import__("subprocess").run(["git", "-c", "core.editor=true", "rebase", "--continue"], cwd=repo,
                                          capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    finished = recorder.wait("git.operation", lambda d: d["status"] == "finished")
    assert finished.data["outcome"] == "completed"
    assert render(finished) == "The user completed the rebase of `feature/login` onto `main`."
    recorder.settle()
    assert not recorder.of_kind("git.refs"), recorder.texts()


def test_interactive_rebase_and_quick_rebase(repo: Path, watch, monkeypatch) -> None:
    commit_file(repo, "a.txt", "a\n", "A")
    commit_file(repo, "b.txt", "b\n", "B")
    recorder = watch(repo)
    monkeypatch.setenv("GIT_SEQUENCE_EDITOR", "sed -i -e 's/^pick \\(.*\\) B$/edit \\1 B/'")
    git(repo, "rebase", "-i", "HEAD~2")
    started = recorder.wait("git.operation", lambda d: d["status"] == "started")
    assert started.data["interactive"] is True
    assert render(started).startswith("The user started an interactive rebase of `main` onto ")
    git(repo, "rebase", "--continue")
    recorder.wait("git.operation", lambda d: d["status"] == "finished")

    # a rebase that starts and finishes between two polls is still reported, from the reflog
    git(repo, "checkout", "-q", "-b", "topic", "HEAD~1")
    commit_file(repo, "c.txt", "c\n", "C")
    recorder.wait("git.commit", lambda d: d["summary"] == "C")
    recorder.clear()
    git(repo, "rebase", "-q", "main")
    quick = recorder.wait("git.operation", lambda d: d["status"] == "finished")
    assert (quick.data["outcome"], quick.data["branch"]) == ("completed", "topic")
    assert render(quick) == "The user completed the rebase of `topic` onto `main`."


def test_cherry_pick_conflict_and_bisect(diverged: Path, watch) -> None:
    repo = diverged
    recorder = watch(repo)
    git_fails(repo, "cherry-pick", "feature/login")
    conflict = recorder.wait("git.conflict")
    assert conflict.data["operation"] == "cherry-pick" and conflict.data["theirs_summary"] == "Refresh tokens on login"
    assert render(conflict).startswith("A cherry-pick of ")
    git(repo, "cherry-pick", "--abort")
    aborted = recorder.wait("git.operation", lambda d: d["status"] == "finished")
    assert aborted.data["operation"] == "cherry-pick" and aborted.data["outcome"] == "aborted"

    recorder.clear()
    git(repo, "bisect", "start", "HEAD", "HEAD~3")
    started = recorder.wait("git.operation", lambda d: d["status"] == "started")
    assert started.data["operation"] == "bisect"
    git(repo, "bisect", "reset")
    finished = recorder.wait("git.operation", lambda d: d["status"] == "finished")
    assert finished.data["operation"] == "bisect"
    recorder.settle()
    assert not recorder.of_kind("git.branch"), "bisect checkouts are part of the bisect"


def test_stash_push_and_pop(repo: Path, watch) -> None:
    recorder = watch(repo)
    (repo / "README.md").write_text("work in progress\n")
    git(repo, "stash", "push", "-m", "half-done refresh")
    pushed = recorder.wait("git.stash")
    assert (pushed.data["action"], pushed.data["count"]) == ("push", 1)
    assert render(pushed) == 'The user stashed their changes on `main` ("On main: half-done refresh"); 1 stash saved.'
    (repo / "README.md").write_text("more work\n")
    git(repo, "stash")
    recorder.wait("git.stash", lambda d: d["count"] == 2)
    git(repo, "stash", "drop")
    dropped = recorder.wait("git.stash", lambda d: d["action"] != "push")
    assert (dropped.data["action"], dropped.data["count"]) == ("drop", 1)
    git(repo, "stash", "pop")
    popped = recorder.wait("git.stash", lambda d: d["action"] == "pop")
    assert popped.data["count"] == 0
    assert render(popped) == 'The user popped the latest stash ("On main: half-done refresh") on `main`; 0 stashes left.'
    assert (repo / "README.md").read_text() == "work in progress\n"


def test_fetch_and_pull_from_a_second_repository(repo: Path, tmp_path: Path, watch) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    recorder = watch(clone)
    before = git(clone, "rev-parse", "HEAD").strip()
    commit_file(repo, "one.txt", "1\n", "Upstream one")
    commit_file(repo, "two.txt", "2\n", "Upstream two")
    git(repo, "branch", "release")
    after = git(repo, "rev-parse", "HEAD").strip()

    git(clone, "fetch", "-q")
    fetched = recorder.wait("git.refs")
    data = fetched.to_dict()["data"]
    assert data["reason"] == "fetch" and data["remotes"] == ["origin"]
    moved = {r["ref"]: r for r in data["refs"]}
    assert moved["origin/main"]["from"] == before and moved["origin/main"]["to"] == after
    assert (moved["origin/main"]["ahead"], moved["origin/main"]["change"]) == (2, "fast-forward")
    assert moved["origin/release"]["change"] == "created"
    assert render(fetched).startswith("The user fetched from `origin`: `origin/main` moved ")
    assert "(2 new commits)" in render(fetched)

    recorder.clear()
    commit_file(repo, "three.txt", "3\n", "Upstream three")
    git(clone, "pull", "-q", "--ff-only")
    pulled = recorder.wait("git.refs")
    data = pulled.to_dict()["data"]
    assert data["reason"] == "pull"
    moved = {r["ref"]: r for r in data["refs"]}
    assert moved["main"]["ahead"] == 3 and moved["origin/main"]["ahead"] == 1
    recorder.settle()
    assert not recorder.of_kind("git.commit"), "pulled commits are not the user's commits"


def test_push_moves_the_remote_tracking_ref(repo: Path, tmp_path: Path, watch) -> None:
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "fetch", "-q", "origin")
    recorder = watch(repo)
    commit_file(repo, "x.txt", "x\n", "Ship it")
    recorder.wait("git.commit")
    git(repo, "push", "-q", "origin", "main")
    pushed = recorder.wait("git.refs")
    assert pushed.data["reason"] == "push"
    assert render(pushed).startswith("The user pushed to `origin`: `origin/main` moved ")


def test_reset_is_reported_as_a_moved_branch(repo: Path, watch) -> None:
    commit_file(repo, "a.txt", "a\n", "A")
    commit_file(repo, "b.txt", "b\n", "B")
    recorder = watch(repo)
    git(repo, "reset", "-q", "--hard", "HEAD~2")
    event = recorder.wait("git.refs")
    entry = event.to_dict()["data"]["refs"][0]
    assert (event.data["reason"], entry["ref"], entry["behind"], entry["change"]) == ("reset", "main", 2, "forced")


def test_dirty_tree_summary_once_per_stretch(repo: Path, watch) -> None:
    recorder = watch(repo, dirty_seconds=0.3)
    recorder.settle(0.5)
    assert not recorder.of_kind("git.dirty"), "a clean tree is never reported"
    (repo / "README.md").write_text("changed\n")
    (repo / "new.py").write_text("x = 1\n")
    (repo / "staged.py").write_text("y = 2\n")
    git(repo, "add", "staged.py")
    event = recorder.wait("git.dirty")
    data = event.to_dict()["data"]
    assert (data["files"], data["modified"], data["added"], data["untracked"]) == (3, 1, 1, 1)
    assert sorted(data["names"]) == ["README.md", "new.py", "staged.py"]
    assert data["seconds"] >= 0.3
    assert render(event).startswith("The user has kept 3 files uncommitted on `main` for ")
    assert "(1 modified, 1 added, 1 untracked)" in render(event)
    recorder.settle(2.5)
    assert len(recorder.of_kind("git.dirty")) == 1, "one report per stretch of uncommitted work"

    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Commit most")
    (repo / "later.txt").write_text("a new stretch\n")
    second = recorder.wait("git.dirty", lambda d: d["names"] == ["later.txt"])
    assert second.data["files"] == 1


def test_dirty_summary_counts_renames_and_deletions(repo: Path, watch) -> None:
    commit_file(repo, "old_name.py", "x = 1\n", "Add module")
    commit_file(repo, "gone.py", "y = 2\n", "Add another")
    recorder = watch(repo, dirty_seconds=0.2)
    git(repo, "mv", "old_name.py", "new_name.py")
    (repo / "gone.py").unlink()
    event = recorder.wait("git.dirty")
    data = event.to_dict()["data"]
    assert (data["renamed"], data["deleted"], data["files"], data["staged"]) == (1, 1, 2, 1)
    assert sorted(data["names"]) == ["gone.py", "new_name.py"]
    assert "(1 deleted, 1 renamed)" in render(event)
