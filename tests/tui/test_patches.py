"""companion.patches: a proposal's diff is validated, then applied by git, or nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.patches import PatchError, apply_patch, check_patch
from tests.conftest import git

PATCH = "--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n"


def test_applies_in_a_repository(repo: Path) -> None:
    (repo / "app.py").write_text("x = 1\ny = 2\n")
    assert apply_patch(repo, PATCH) == ["app.py"]
    assert (repo / "app.py").read_text() == "x = 1\ny = 3\n"


def test_applies_in_a_plain_folder_and_in_a_repository_subfolder(workspace: Path, repo: Path) -> None:
    (workspace / "app.py").write_text("x = 1\ny = 2\n")
    apply_patch(workspace, PATCH)
    assert (workspace / "app.py").read_text() == "x = 1\ny = 3\n"
    sub = repo / "pkg"
    sub.mkdir()
    (sub / "app.py").write_text("x = 1\ny = 2\n")
    apply_patch(sub, PATCH)
    assert (sub / "app.py").read_text() == "x = 1\ny = 3\n"
    assert not (repo / "app.py").exists()


def test_a_bare_hunk_gets_the_proposals_path(workspace: Path) -> None:
    (workspace / "app.py").write_text("x = 1\ny = 2\n")
    apply_patch(workspace, "@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n", path="app.py")
    assert (workspace / "app.py").read_text() == "x = 1\ny = 3\n"


def test_wrong_hunk_counts_are_recounted(workspace: Path) -> None:
    (workspace / "app.py").write_text("x = 1\ny = 2\n")
    apply_patch(workspace, "--- a/app.py\n+++ b/app.py\n@@ -1,7 +1,9 @@\n x = 1\n-y = 2\n+y = 3\n")
    assert (workspace / "app.py").read_text() == "x = 1\ny = 3\n"


@pytest.mark.parametrize("name", ["../outside.py", "/etc/passwd", "a/../../outside.py", ".git/config"])
def test_paths_outside_the_workspace_are_refused(repo: Path, name: str) -> None:
    patch = f"--- {name}\n+++ {name}\n@@ -1 +1 @@\n-a\n+b\n"
    with pytest.raises(PatchError):
        check_patch(repo, patch)


def test_a_patch_that_does_not_apply_changes_nothing(repo: Path) -> None:
    (repo / "app.py").write_text("x = 1\ny = 2\n")
    (repo / "other.py").write_text("a = 1\n")
    two_files = PATCH.replace("-y = 2", "-y = 5") + "--- a/other.py\n+++ b/other.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n"
    with pytest.raises(PatchError, match="does not apply"):
        apply_patch(repo, two_files)
    assert (repo / "other.py").read_text() == "a = 1\n"  # all or nothing
    assert (repo / "app.py").read_text() == "x = 1\ny = 2\n"


def test_not_a_diff_is_refused(repo: Path) -> None:
    with pytest.raises(PatchError, match="not a unified diff"):
        check_patch(repo, "Replace y = 2 with y = 3.")


def test_new_file_from_dev_null(repo: Path) -> None:
    patch = "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+print('hi')\n"
    assert apply_patch(repo, patch) == ["new.py"]
    assert (repo / "new.py").read_text() == "print('hi')\n"
    assert "new.py" in git(repo, "status", "--porcelain")
