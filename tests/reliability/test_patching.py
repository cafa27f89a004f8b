"""companion.patching, the one patch engine: a proposal's diff is checked against the file as it is,
then written in one step, or refused with the reason and nothing changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from companion.patching import PatchError, apply, apply_to_text, check, parse, undo

PATCH = "--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n"


def test_applies_in_a_repository_a_plain_folder_and_a_repository_subfolder(repo: Path, workspace: Path) -> None:
    sub = repo / "pkg"
    sub.mkdir()
    for root in (repo, workspace, sub):
        (root / "app.py").write_text("x = 1\ny = 2\n")
        edit = apply(root, PATCH)
        assert edit.path == "app.py" and edit.before == "x = 1\ny = 2\n"
        assert (root / "app.py").read_text() == "x = 1\ny = 3\n"
    assert not list(repo.glob(".*.companion-tmp"))


def test_checking_writes_nothing(workspace: Path) -> None:
    (workspace / "app.py").write_text("x = 1\ny = 2\n")
    checked = check(workspace, PATCH)
    assert checked.after == "x = 1\ny = 3\n"
    assert (workspace / "app.py").read_text() == "x = 1\ny = 2\n"


def test_a_bare_hunk_gets_the_proposals_path(workspace: Path) -> None:
    (workspace / "app.py").write_text("x = 1\ny = 2\n")
    apply(workspace, "@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n", path="app.py")
    assert (workspace / "app.py").read_text() == "x = 1\ny = 3\n"


def test_wrong_counts_and_moved_lines_still_apply_at_the_nearest_match() -> None:
    text = "# header\n# more\nx = 1\ny = 2\nx = 1\ny = 2\n"
    # the hunk says line 1 and miscounts; the first match is nearest to line 1
    assert apply_to_text(text, "@@ -1,7 +1,9 @@\n x = 1\n-y = 2\n+y = 3\n") == "# header\n# more\nx = 1\ny = 3\nx = 1\ny = 2\n"
    # it says line 5: the second one
    assert apply_to_text(text, "@@ -5,2 +5,2 @@\n x = 1\n-y = 2\n+y = 3\n") == "# header\n# more\nx = 1\ny = 2\nx = 1\ny = 3\n"


def test_a_pure_insertion_goes_after_the_line_it_names() -> None:
    assert apply_to_text("a\nb\nc\n", "@@ -2,0 +3,1 @@\n+inserted\n") == "a\nb\ninserted\nc\n"
    assert apply_to_text("", "@@ -0,0 +1,2 @@\n+first\n+second\n") == "first\nsecond\n"


def test_line_breaks_and_a_missing_last_break_are_kept() -> None:
    assert apply_to_text("x = 1\r\ny = 2\r\n", PATCH) == "x = 1\r\ny = 3\r\n"
    mixed = "x = 1\r\ny = 2\nz = 9\n"  # untouched lines keep theirs; new lines get the file's first
    assert apply_to_text(mixed, PATCH) == "x = 1\r\ny = 3\r\nz = 9\n"
    assert apply_to_text("x = 1\ny = 2", PATCH) == "x = 1\ny = 3"
    assert apply_to_text("x = 1", "@@ -1,0 +2,1 @@\n+y = 2\n") == "x = 1\ny = 2"


def test_prose_and_fences_around_the_diff_are_ignored() -> None:
    reply = "Here is the fix:\n```diff\n" + PATCH + "```\nThis makes y three."
    assert apply_to_text("x = 1\ny = 2\n", reply) == "x = 1\ny = 3\n"


@pytest.mark.parametrize("name", ["../outside.py", "/etc/passwd", "a/../../outside.py", ".git/config", "."])
def test_paths_outside_the_workspace_or_in_git_are_refused(repo: Path, name: str) -> None:
    with pytest.raises(PatchError, match="outside the workspace|inside .git"):
        check(repo, f"--- {name}\n+++ {name}\n@@ -1 +1 @@\n-a\n+b\n")


def test_a_symlink_out_of_the_workspace_is_refused(workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("a\n")
    (workspace / "link.py").symlink_to(outside)
    with pytest.raises(PatchError, match="outside the workspace"):
        apply(workspace, "--- a/link.py\n+++ b/link.py\n@@ -1 +1 @@\n-a\n+b\n")
    assert outside.read_text() == "a\n"


def test_a_patch_that_does_not_apply_says_which_line_and_changes_nothing(workspace: Path) -> None:
    (workspace / "app.py").write_text("x = 1\ny = 5\n")
    with pytest.raises(PatchError, match=r"line 1 expects `y = 2`, which is no longer in the file"):
        apply(workspace, PATCH)
    assert (workspace / "app.py").read_text() == "x = 1\ny = 5\n"


def test_hunks_apply_all_or_nothing(workspace: Path) -> None:
    (workspace / "app.py").write_text("x = 1\ny = 2\nz = 3\n")
    two_hunks = PATCH + "@@ -3 +3 @@\n-z = 4\n+z = 5\n"
    with pytest.raises(PatchError, match="line 3 expects `z = 4`"):
        apply(workspace, two_hunks)
    assert (workspace / "app.py").read_text() == "x = 1\ny = 2\nz = 3\n"


def test_what_is_not_one_files_diff_is_refused(workspace: Path) -> None:
    with pytest.raises(PatchError, match="not a unified diff"):
        parse("Replace y = 2 with y = 3.")
    with pytest.raises(PatchError, match="changes 2 files"):
        parse(PATCH + "--- a/other.py\n+++ b/other.py\n@@ -1 +1 @@\n-a\n+b\n")
    with pytest.raises(PatchError, match="does not name a file"):
        check(workspace, "@@ -1 +1 @@\n-a\n+b\n")


def test_files_it_cannot_patch_are_refused_with_the_reason(workspace: Path) -> None:
    with pytest.raises(PatchError, match="new.py does not exist"):
        check(workspace, "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+print('hi')\n")
    (workspace / "blob.py").write_bytes(b"a\0b\n")
    with pytest.raises(PatchError, match="binary"):
        check(workspace, "@@ -1 +1 @@\n-a\n+b\n", path="blob.py")
    (workspace / "latin.py").write_bytes(b"caf\xe9\n")
    with pytest.raises(PatchError, match="not UTF-8"):
        check(workspace, "@@ -1 +1 @@\n-a\n+b\n", path="latin.py")


def test_the_mode_is_kept_and_undo_restores_the_file(workspace: Path) -> None:
    script = workspace / "app.py"
    script.write_text("x = 1\ny = 2\n")
    os.chmod(script, 0o750)
    edit = apply(workspace, PATCH)
    assert script.stat().st_mode & 0o777 == 0o750
    assert undo(edit) and script.read_text() == "x = 1\ny = 2\n"
    edit = apply(workspace, PATCH)
    script.write_text("typed since\n")
    assert not undo(edit) and script.read_text() == "typed since\n"  # never overwrites newer work
