"""The repository a run works on: a git folder or a bundle, cloned once, copied for every moment.

Moments start from the repository's HEAD (its committed state): a clone, so the user's own
working tree, branches and stash are never touched. Every moment gets its own copy (a local
clone: hard-linked objects, a second or less even for large histories), with a git identity of
its own so commits made by a moment never need the user's.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_IDENTITY = "[user]\n\tname = Moments Benchmark\n\temail = moments@example.invalid\n" \
               "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"


class RepoError(RuntimeError):
    """A repository that cannot be used (not a git repository, a bundle that does not clone)."""


def git(cwd: Path, *args: str, env: dict[str, str] | None = None, check: bool = True,
        timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise RepoError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def git_env(gitconfig: Path) -> dict[str, str]:
    """The environment for git commands of a moment: its own identity, nothing of the user's config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"})
    return env


def write_identity(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".gitconfig"
    path.write_text(GIT_IDENTITY)
    return path


@dataclass
class Repo:
    """A cloned repository: `base` is the pristine clone every moment copies."""

    name: str
    source: Path
    base: Path
    commit: str
    branch: str

    @classmethod
    def clone(cls, source: Path, into: Path, env: dict[str, str]) -> "Repo":
        """Clone a folder (a git work tree) or a bundle file into `into`/base."""
        source = source.expanduser().resolve()
        if not source.exists():
            raise RepoError(f"{source} does not exist")
        if source.is_dir() and git(source, "rev-parse", "--git-dir", check=False, env=env).returncode != 0:
            raise RepoError(f"{source} is not a git repository")
        name = source.name[:-len(".bundle")] if source.name.endswith(".bundle") else source.name
        base = into / "base"
        links = ["--no-hardlinks"] if source.is_dir() else []  # never share files with the user's repository
        result = subprocess.run(["git", "clone", "-q", *links, str(source), str(base)], capture_output=True, text=True,
                                env=env, timeout=600)
        if result.returncode != 0:
            raise RepoError(f"{source} does not clone: {result.stderr.strip() or 'git clone failed'}")
        head = git(base, "rev-parse", "--verify", "-q", "HEAD", check=False, env=env)
        if head.returncode != 0:
            raise RepoError(f"{source} has no commits on its default branch")
        branch = git(base, "rev-parse", "--abbrev-ref", "HEAD", env=env).stdout.strip()
        return cls(name=name, source=source, base=base, commit=head.stdout.strip(), branch=branch)

    def copy(self, dest: Path, env: dict[str, str]) -> Path:
        """A fresh copy for one moment: a local clone on the same branch, origin removed."""
        result = subprocess.run(["git", "clone", "-q", "--local", str(self.base), str(dest)], capture_output=True,
                                text=True, env=env, timeout=300)
        if result.returncode != 0:
            raise RepoError(f"copying {self.name} failed: {result.stderr.strip()}")
        git(dest, "remote", "remove", "origin", env=env)
        return dest.resolve()
