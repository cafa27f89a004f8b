"""`companion doctor`: is everything in place? Runs every check registered in companion.checks.

The areas' `checks` modules (companion.<area>.checks, watchers.checks, lsp_server.checks) are
imported here, so a new area adds checks without editing this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path

from companion import paths
from companion.checks import CheckResult, check, run_checks
from companion.cli._common import add_workspace_argument, print_json, workspace_from

CHECK_PACKAGES = ("watchers", "lsp_server")  # besides companion's own subpackages


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("doctor", help="check the set-up (config, store, models, git, daemon)")
    add_workspace_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def load_check_modules() -> None:
    """Import every `checks` module of companion's subpackages and of the packages below the
    command line, so their @check functions register."""
    import companion

    names = [f"companion.{i.name}.checks" for i in pkgutil.iter_modules(companion.__path__) if i.ispkg]
    names += [f"{package}.checks" for package in CHECK_PACKAGES]
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name not in (name, name.rsplit(".", 1)[0]):
                raise


@check
def daemon(workspace: Path) -> CheckResult:
    from companion.daemon import is_running

    reply = is_running(workspace)
    if reply:
        return CheckResult("daemon", True, f"running (pid {reply['pid']}) at {paths.socket_file(workspace)}", required=False)
    return CheckResult("daemon", True, f"not running for {workspace}; `companion run` starts it", required=False)


def run(args: argparse.Namespace) -> int:
    load_check_modules()
    results = run_checks(workspace_from(args))
    failed = [r for r in results if not r.ok and r.required]
    if args.json:
        print_json({"ok": not failed, "checks": [r.__dict__ for r in results]})
    else:
        for result in results:
            mark = '✓' if result.ok else ('✗' if result.required else '!')
            print(f"{mark} {result.name}: {result.detail}")
        print("all good" if not failed else f"{len(failed)} problem(s) found")
    return 1 if failed else 0
