"""Where companion keeps its data, config and sockets.

`COMPANION_HOME` moves everything (tests rely on it); otherwise the platform's usual user
directories are used (platformdirs), like atuin and ActivityWatch do.

Everything companion keeps is private to the user: its folders are created 0700 and its files
0600 (`private_dir`, `private_file`), the daemon runs under a 0077 umask (`restrict_umask`), and
`make_private` repairs an older install whose files other local users could read.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import platformdirs

APP = "companion"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_user_umask: int | None = None


def private_dir(path: Path) -> Path:
    """Create `path` (0700) when missing; an existing folder is left as it is (see make_private)."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        try:
            os.chmod(path, PRIVATE_DIR)
        except OSError:
            pass
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty with 0600 when missing, so that whoever opens it next keeps that mode."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, PRIVATE_FILE))
    return path


def restrict_umask() -> int:
    """Give this process the 0077 umask (for the daemon); returns, and remembers, the user's own
    one, which applying a proposal's edit should use for files it creates in the workspace."""
    global _user_umask
    previous = os.umask(0o077)
    if _user_umask is None:
        _user_umask = previous
    return previous


def user_umask() -> int:
    """The umask the user started companion with (before `restrict_umask`)."""
    if _user_umask is not None:
        return _user_umask
    current = os.umask(0o077)
    os.umask(current)
    return current


def private_roots() -> list[Path]:
    """The folders that are companion's alone: COMPANION_HOME, or its data, config, cache and runtime
    folders (never their parents)."""
    base = home()
    if base:
        return [base]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return [Path(platformdirs.user_data_dir(APP)), Path(platformdirs.user_config_dir(APP)),
            Path(platformdirs.user_cache_dir(APP)),
            Path(runtime) / APP if runtime else Path(platformdirs.user_runtime_dir(APP))]


def make_private(roots: list[Path] | None = None) -> int:
    """Take group and other permissions off every folder and file under `roots` (symbolic links are
    not followed); returns how many had to change."""
    changed = 0

    def fix(path: Path, wanted: int) -> None:
        nonlocal changed
        try:
            info = os.lstat(path)
        except OSError:
            return
        if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or not info.st_mode & 0o077:
            return
        try:
            os.chmod(path, stat.S_IMODE(info.st_mode) & wanted)
            changed += 1
        except OSError:
            pass

    for root in roots if roots is not None else private_roots():
        if not root.is_dir() or root.is_symlink():
            continue
        fix(root, PRIVATE_DIR)
        for folder, dirs, files in os.walk(root):
            for name in dirs:
                fix(Path(folder) / name, PRIVATE_DIR)
            for name in files:
                fix(Path(folder) / name, PRIVATE_FILE)
    return changed


def home() -> Path | None:
    value = os.environ.get("COMPANION_HOME")
    return Path(value).expanduser() if value else None


def _under_home(name: str) -> Path | None:
    base = home()
    if base is None:
        return None
    private_dir(base)
    return base / name


def data_dir() -> Path:
    return private_dir(_under_home("data") or Path(platformdirs.user_data_dir(APP)))


def config_dir() -> Path:
    """The folder of config.toml (created 0700 when something is written there)."""
    base = home()
    return base if base else Path(platformdirs.user_config_dir(APP))


def config_file() -> Path:
    return config_dir() / "config.toml"


def runtime_dir() -> Path:
    """A private folder for sockets and locks (0700); short enough for AF_UNIX paths."""
    path = _under_home("run")
    if path is None:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        path = Path(runtime) / APP if runtime else Path(platformdirs.user_runtime_dir(APP))
    private_dir(path)
    os.chmod(path, PRIVATE_DIR)
    return path


def models_dir() -> Path:
    """Converted and trained models; `COMPANION_MODELS_DIR` shares one cache between homes (tests)."""
    override = os.environ.get("COMPANION_MODELS_DIR")
    if override:
        path = Path(override).expanduser()
        path.mkdir(parents=True, exist_ok=True)  # shared on purpose (tests); its owner chose its mode
        return path
    return private_dir(data_dir() / "models")


def cache_dir() -> Path:
    return private_dir(_under_home("cache") or Path(platformdirs.user_cache_dir(APP)))


def logs_dir() -> Path:
    return private_dir(data_dir() / "logs")


def workspace_root(path: str | os.PathLike[str]) -> Path:
    """The canonical form of a workspace path: absolute, symlinks resolved."""
    return Path(path).expanduser().resolve()


def workspace_key(workspace: str | os.PathLike[str]) -> str:
    """A short stable id of a workspace, for socket, lock and spool file names."""
    return hashlib.sha1(str(workspace_root(workspace)).encode()).hexdigest()[:12]


def database_file() -> Path:
    """One database for all workspaces, with a workspace column (cross-workspace queries are cheap)."""
    return data_dir() / "companion.db"


def socket_file(workspace: str | os.PathLike[str]) -> Path:
    return runtime_dir() / f"{workspace_key(workspace)}.sock"


def lock_file(workspace: str | os.PathLike[str]) -> Path:
    return runtime_dir() / f"{workspace_key(workspace)}.lock"


def spool_dir() -> Path:
    return private_dir(data_dir() / "spool")
