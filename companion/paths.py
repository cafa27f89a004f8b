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
    not followed); returns how many of them other users could reach before. An entry is reachable
    when other users may search (pass through) every folder above it, the root's own parents
    included: one inside a 0700 folder is made private all the same, but not counted, so that the
    daemon's note ("other local users could read them") is true."""
    changed = 0

    def fix(path: Path, wanted: int, reachable: bool) -> bool:
        """Take the permissions off `path`; returns whether other users could pass through it before."""
        nonlocal changed
        try:
            info = os.lstat(path)
        except OSError:
            return False
        if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
            return False
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            try:
                os.chmod(path, mode & wanted)
                changed += reachable
            except OSError:
                pass
        return reachable and bool(mode & 0o011)

    for root in roots if roots is not None else private_roots():
        if not root.is_dir() or root.is_symlink():
            continue
        passable = {root: fix(root, PRIVATE_DIR, _others_can_search(root.resolve().parent))}
        for folder, dirs, files in os.walk(root):
            reachable = passable.pop(Path(folder), False)
            for name in dirs:
                passable[Path(folder) / name] = fix(Path(folder) / name, PRIVATE_DIR, reachable)
            for name in files:
                fix(Path(folder) / name, PRIVATE_FILE, reachable)
    return changed


def _others_can_search(folder: Path) -> bool:
    """Whether a group or other user may pass through `folder` and every folder above it."""
    for each in (folder, *folder.parents):
        try:
            if not os.stat(each).st_mode & 0o011:
                return False
        except OSError:
            return False
    return True


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


def source_checkout() -> Path | None:
    """The repository root when companion runs from a source checkout (an editable install
    included), else None. Training and evaluation keep their working files beside the checkout's
    data there; an installed companion must never write into site-packages."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "companion" / "__init__.py").is_file() else None


def work_cache_dir() -> Path:
    """Where training and evaluation cache what they compute (sentence embeddings): `.cache/` of
    a source checkout (as before), else companion's cache folder; never the installed package."""
    checkout = source_checkout()
    return checkout / ".cache" if checkout is not None else cache_dir()


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
