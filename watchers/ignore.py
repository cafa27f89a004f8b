"""Which paths of a workspace the file watcher ignores, the way git would.

The watcher must never descend into (or even watch) a folder that git ignores: a repository
with a big `node_modules/` or build tree would otherwise cost seconds at start-up, hundreds of
megabytes and thousands of inotify watches. So the rules are checked per folder during the walk,
with git's precedence (lowest first, the last matching pattern wins):

    built-in defaults (node_modules/, virtual environments, build folders, editor swap files)
    < core.excludesFile (default ~/.config/git/ignore)
    < .git/info/exclude
    < the .gitignore files from the repository root down to the path's own folder
    < config.watch.ignore (the user's explicit wish for companion)

`.git/` itself is always ignored and so is any folder holding a `pyvenv.cfg` (a virtual
environment under any name). The built-in defaults are guesses: a folder they match that holds
files git tracks (a committed `build/` of scripts, say) is watched. Pattern matching is pathspec's GitIgnoreSpec.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterable

from pathspec import GitIgnoreSpec

DEFAULT_PATTERNS = (
    # dependencies and virtual environments
    "node_modules/", "bower_components/", ".venv/", "venv/", ".virtualenv/", "__pypackages__/",
    # build output and caches
    "build/", "dist/", "target/", "out/", "_build/", "__pycache__/", "*.py[cod]", "*.egg-info/", ".eggs/",
    ".tox/", ".nox/", ".mypy_cache/", ".pytest_cache/", ".ruff_cache/", ".hypothesis/", ".cache/",
    ".gradle/", ".next/", ".nuxt/", ".parcel-cache/", ".turbo/", "coverage/", "htmlcov/", ".coverage",
    # editor and system noise (swap files live as long as the editor session)
    "*.swp", "*.swo", "*.swx", "*~", ".#*", "#*#", "4913", ".DS_Store", "Thumbs.db", ".idea/", ".vscode/",
    # other version control systems
    ".hg/", ".svn/", ".jj/",
)
ALWAYS_IGNORED = frozenset({".git"})


def _read_patterns(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def find_git_dirs(workspace: Path) -> tuple[Path | None, Path | None]:
    """(repository root, common git folder) for the workspace, or (None, None) outside a repository.

    Handles `.git` files (worktrees, submodules): `gitdir: ...` and that folder's `commondir`."""
    for folder in (workspace, *workspace.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return folder, dot_git
        if dot_git.is_file():
            text = dot_git.read_text(errors="replace").strip()
            if not text.startswith("gitdir:"):
                return folder, None
            git_dir = (folder / text[len("gitdir:"):].strip()).resolve()
            common = git_dir / "commondir"
            if common.is_file():
                git_dir = (git_dir / common.read_text().strip()).resolve()
            return folder, git_dir
    return None, None


def global_excludes_file(cwd: Path) -> Path | None:
    """core.excludesFile as git reads it, else $XDG_CONFIG_HOME/git/ignore (~/.config/git/ignore)."""
    configured = ""
    if shutil.which("git"):
        try:
            result = subprocess.run(["git", "config", "--path", "--get", "core.excludesFile"], cwd=cwd,
                                    capture_output=True, text=True, timeout=5)
            configured = result.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            configured = ""
    if configured:
        return Path(os.path.expanduser(configured))
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(xdg) / "git" / "ignore"


class IgnoreRules:
    """Answers "is this workspace path ignored?" for paths relative to the workspace (POSIX style).

    `.gitignore` files are loaded lazily, once per folder, and reloaded when the watcher sees one
    change (`forget_folder`)."""

    def __init__(self, workspace: Path, extra_patterns: Iterable[str] = (), use_defaults: bool = True) -> None:
        self.workspace = workspace
        self.repo_root, self.git_dir = find_git_dirs(workspace)
        # the workspace's path inside the repository ("" when it is the root), for nested workspaces
        self._prefix = ""
        if self.repo_root is not None and self.repo_root != workspace:
            self._prefix = workspace.relative_to(self.repo_root).as_posix() + "/"
        defaults = list(DEFAULT_PATTERNS) if use_defaults else []
        # folder defaults are asked about folders only: a file below a folder the walk kept (because
        # git tracks files there) is not ignored by the folder's name
        self._default_dirs = GitIgnoreSpec.from_lines([p for p in defaults if p.endswith("/")])
        self._default_files = GitIgnoreSpec.from_lines([p for p in defaults if not p.endswith("/")])
        low: list[str] = []
        excludes = global_excludes_file(workspace)
        if excludes is not None:
            low += _read_patterns(excludes)
        if self.git_dir is not None:
            low += _read_patterns(self.git_dir / "info" / "exclude")
        self._base = GitIgnoreSpec.from_lines(low)  # matched against repository-relative paths
        self._tracked: dict[str, bool] = {}
        self._user = GitIgnoreSpec.from_lines(list(extra_patterns))  # workspace-relative
        self._folder_specs: dict[str, GitIgnoreSpec | None] = {}
        self._outer_folders = self._folders_above_workspace()

    def _folders_above_workspace(self) -> list[str]:
        """Repository-relative folders between the repository root and the workspace ("" is the root)."""
        if not self._prefix:
            return []
        parts = self._prefix.rstrip("/").split("/")
        return [""] + ["/".join(parts[:i]) for i in range(1, len(parts))]

    def _spec_of(self, repo_folder: str) -> GitIgnoreSpec | None:
        if repo_folder not in self._folder_specs:
            base = self.repo_root if self.repo_root is not None else self.workspace
            lines = _read_patterns(base / repo_folder / ".gitignore")
            self._folder_specs[repo_folder] = GitIgnoreSpec.from_lines(lines) if any(
                line.strip() and not line.startswith("#") for line in lines) else None
        return self._folder_specs[repo_folder]

    def forget_folder(self, rel_folder: str) -> None:
        """A .gitignore in this workspace folder changed: read it again next time."""
        self._folder_specs.pop(self._prefix + rel_folder if rel_folder else self._prefix.rstrip("/"), None)

    def is_ignored(self, rel_path: str, is_dir: bool) -> bool:
        """Whether git (and companion's defaults and settings) ignore this path itself.

        Callers walk top-down and never ask about the contents of an ignored folder, so a path's
        parent folders are known to be kept (as in git, a file inside an excluded folder cannot be
        re-included)."""
        name = rel_path.rsplit("/", 1)[-1]
        if name in ALWAYS_IGNORED:
            return True
        if is_dir and os.path.isfile(os.path.join(self.workspace, rel_path, "pyvenv.cfg")):
            return True
        probe = rel_path + "/" if is_dir else rel_path
        repo_path = self._prefix + probe
        decision = (self._default_dirs if is_dir else self._default_files).check_file(repo_path).include
        decided_by_default = decision is not None
        result = self._base.check_file(repo_path).include
        if result is not None:
            decision, decided_by_default = result, False
        repo_rel = self._prefix + rel_path
        folders = self._outer_folders + self._workspace_folders(rel_path)
        for folder in folders:
            spec = self._spec_of(folder)
            if spec is None:
                continue
            inner = repo_rel[len(folder) + 1:] if folder else repo_rel
            result = spec.check_file(inner + "/" if is_dir else inner).include
            if result is not None:
                decision, decided_by_default = result, False
        result = self._user.check_file(probe).include
        if result is not None:
            decision, decided_by_default = result, False
        if decision and decided_by_default and is_dir and self._holds_tracked_files(repo_path):
            return False  # a default guess (e.g. build/) that the repository proves wrong
        return bool(decision)

    def _holds_tracked_files(self, repo_folder: str) -> bool:
        """Whether git tracks files in this folder (asked once per folder a default matched)."""
        if self.repo_root is None or not shutil.which("git"):
            return False
        if repo_folder not in self._tracked:
            try:
                listing = subprocess.run(["git", "ls-files", "--cached", "--", repo_folder], cwd=self.repo_root,
                                         capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
                self._tracked[repo_folder] = listing.returncode == 0 and bool(listing.stdout.strip())
            except (OSError, subprocess.SubprocessError):
                self._tracked[repo_folder] = False
        return self._tracked[repo_folder]

    def _workspace_folders(self, rel_path: str) -> list[str]:
        """Repository-relative folders from the workspace down to the path's parent."""
        parts = rel_path.split("/")[:-1]
        top = self._prefix.rstrip("/")
        folders = [top]
        for i in range(1, len(parts) + 1):
            folders.append(self._prefix + "/".join(parts[:i]))
        return folders
