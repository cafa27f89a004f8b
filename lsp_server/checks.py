"""`companion doctor` checks for the editors: can `companion lsp` start, and where is the Neovim
plugin. Registered with `@check` when `companion.cli.doctor` imports this module."""

from __future__ import annotations

import shutil
from pathlib import Path

from companion.checks import CheckResult, check

PLUGIN = Path(__file__).resolve().parent / "nvim"


@check
def language_server(_workspace: Path) -> CheckResult:
    try:
        from importlib.metadata import version

        from lsp_server import create_server

        create_server()
        return CheckResult("language server", True, f"`companion lsp` is ready (pygls {version('pygls')}, "
                                                     f"lsprotocol {version('lsprotocol')})", required=False)
    except Exception as exc:  # a broken install is reported, not raised
        return CheckResult("language server", False, f"`companion lsp` cannot start: {exc}; "
                                                      "reinstall companion (pygls 2 and lsprotocol are needed)",
                           required=False)


@check
def neovim_plugin(_workspace: Path) -> CheckResult:
    if not (PLUGIN / "lua" / "companion" / "init.lua").is_file():
        return CheckResult("neovim plugin", False, f"missing from {PLUGIN}; reinstall companion", required=False)
    where = "Neovim found" if shutil.which("nvim") else "Neovim not found on PATH"
    return CheckResult("neovim plugin", True, f"{PLUGIN} (add it to 'runtimepath'; {where})", required=False)
