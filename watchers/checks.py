"""`companion doctor` checks of the watchers: how many folders this workspace needs watched,
against the inotify limit. Found by `companion.cli.doctor.load_check_modules`."""

from __future__ import annotations

from pathlib import Path

from companion.checks import CheckResult, check
from watchers.ignore import IgnoreRules
from watchers.tree import WatchedTree, inotify_watch_limit


@check
def watched_folders(workspace: Path) -> CheckResult:
    from companion.config import load_config

    rules = IgnoreRules(workspace, load_config(workspace).watch.ignore)
    tree = WatchedTree(str(workspace), rules, None, lambda message, path: None, use_inotify=False)
    tree.add_tree("")
    folders, files = len(tree.dirs), len(tree.files)
    detail = f"{folders} folders, {files} files watched (git-ignored folders skipped)"
    limit = inotify_watch_limit()
    if limit is None:
        return CheckResult("watched folders", True, detail)
    if folders > limit * 0.8:  # other programs (editors, IDEs) hold watches too
        return CheckResult("watched folders", False, f"{detail}, but the inotify limit is {limit}: raise it with "
                           "`sudo sysctl fs.inotify.max_user_watches=524288` (and in /etc/sysctl.conf)")
    return CheckResult("watched folders", True, f"{detail}; inotify limit {limit}")
