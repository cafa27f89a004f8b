"""Saves by real editors (Neovim, Vim) in headless mode: each save is one `file.saved`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git


@pytest.mark.parametrize("editor", ["nvim", "vim"])
@pytest.mark.parametrize("backupcopy", ["yes", "no"])
def test_editor_save_is_one_event(editor: str, backupcopy: str, repo: Path, watch) -> None:
    if shutil.which(editor) is None:
        pytest.skip(f"{editor} is not installed")
    target = repo / "service.py"
    target.write_text("def handler(request):\n    return request\n")
    git(repo, "add", "service.py")  # the previous version comes from git's index
    w = watch(repo)
    flags = ["--headless"] if editor == "nvim" else ["-es", "-N"]
    # 'backupcopy=no' is the rename dance (original renamed to a backup, a new file written);
    # swap files and the 4913 probe are on as in a user's session
    command = [editor, *flags, "-u", "NONE", "-i", "NONE", "-c", "set swapfile writebackup",
               "-c", f"set backupcopy={backupcopy}", "-c", "normal Go    # TODO: validate request",
               "-c", "wq", str(target)]
    subprocess.run(command, cwd=repo, timeout=30, capture_output=True, stdin=subprocess.DEVNULL, check=True)
    assert target.read_text().endswith("# TODO: validate request\n")
    saved = w.wait_for("file.saved", "service.py")
    events = w.settle()
    assert [(e["kind"], e["path"]) for e in events] == [("file.saved", "service.py")], events
    assert saved["baseline"] == "git" and saved["lines_added"] == 1 and saved["lines_removed"] == 0
    assert saved["symbols"] == ["handler"]
    assert saved["todos_added"] == ["TODO: validate request"]
