"""Where companion keeps its data, config and sockets.

`COMPANION_HOME` moves everything (tests rely on it); otherwise the platform's usual user
directories are used (platformdirs), like atuin and ActivityWatch do.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import platformdirs

APP = "companion"


def home() -> Path | None:
    value = os.environ.get("COMPANION_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    base = home()
    path = base / "data" if base else Path(platformdirs.user_data_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_file() -> Path:
    base = home()
    if base:
        return base / "config.toml"
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def runtime_dir() -> Path:
    """A private folder for sockets and locks (0700); short enough for AF_UNIX paths."""
    base = home()
    if base:
        path = base / "run"
    else:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        path = Path(runtime) / APP if runtime else Path(platformdirs.user_runtime_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def models_dir() -> Path:
    """Converted and trained models; `COMPANION_MODELS_DIR` shares one cache between homes (tests)."""
    override = os.environ.get("COMPANION_MODELS_DIR")
    path = Path(override).expanduser() if override else data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    base = home()
    path = base / "cache" if base else Path(platformdirs.user_cache_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


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
    path = data_dir() / "spool"
    path.mkdir(parents=True, exist_ok=True)
    return path
