"""The set-up checks registry: each check is a small function registered with `@check`.

The registry lives in the core so that every layer can register checks (a watcher its inotify
limits, a backend its server) without importing the command that runs them; `companion doctor`
(companion/cli/doctor.py) imports the areas' `checks` modules and runs what registered. The
core's own checks (python, config, store, git, torch, default models) are here too.
"""

from __future__ import annotations

import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from companion import paths


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    required: bool = True


Check = Callable[[Path], CheckResult]
CHECKS: list[Check] = []


def check(function: Check) -> Check:
    CHECKS.append(function)
    return function


def run_checks(workspace: Path) -> list[CheckResult]:
    """Every registered check, in registration order; a check that raises is a failed check."""
    results = []
    for function in CHECKS:
        try:
            results.append(function(workspace))
        except Exception as exc:
            results.append(CheckResult(function.__name__.replace("_", " "), False, f"check failed: {exc}"))
    return results


@check
def python_version(_workspace: Path) -> CheckResult:
    ok = sys.version_info >= (3, 10)
    return CheckResult("python", ok, f"{platform.python_version()} ({sys.executable})")


@check
def configuration(workspace: Path) -> CheckResult:
    from companion.config import ConfigError, load_config

    try:
        config = load_config(workspace)
    except ConfigError as exc:
        return CheckResult("config", False, str(exc))
    return CheckResult("config", True, ", ".join(config.sources) or f"defaults (no {paths.config_file()})")


@check
def store(_workspace: Path) -> CheckResult:
    from companion.store import Store, StoreError

    try:
        with Store() as db:
            ok = db.integrity_ok()
            return CheckResult("store", ok, f"{db.path} (schema {db.schema_version}, "
                               f"{db.count_events()} events){'' if ok else ': integrity check failed'}")
    except StoreError as exc:
        return CheckResult("store", False, str(exc))


@check
def git_binary(_workspace: Path) -> CheckResult:
    found = shutil.which("git")
    return CheckResult("git", found is not None, found or "git is not on PATH; the git watcher needs it")


@check
def torch_build(_workspace: Path) -> CheckResult:
    try:
        import torch
    except ImportError:
        return CheckResult("torch", False, "torch is not installed; run `make run` or `pip install torch==2.13.0`")
    cuda = "CUDA" if torch.cuda.is_available() else "CPU"
    return CheckResult("torch", True, f"{torch.__version__} ({cuda}, {torch.get_num_threads()} threads)")


@check
def default_models(_workspace: Path) -> CheckResult:
    from companion.models import ModelMissing, minilm_dir, smollm2_gguf

    try:
        return CheckResult("default models", True, f"agent {smollm2_gguf().name}, gate {minilm_dir().parent.name}")
    except ModelMissing as exc:
        return CheckResult("default models", False, str(exc))
