"""`companion shell-init bash|zsh|fish`: print the shell hook to load from the shell's rc file.

    bash:  eval "$(companion shell-init bash)"      (at the end of ~/.bashrc)
    zsh:   eval "$(companion shell-init zsh)"       (at the end of ~/.zshrc)
    fish:  companion shell-init fish | source      (in ~/.config/fish/config.fish)

The hook is a static script shipped with the package; only the default spool folder is filled in,
so that the shell never has to run Python to find it (COMPANION_HOME, when set in the shell, wins).
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

import platformdirs

from companion import paths
from companion.cli import CommandError
from companion.cli._common import print_json

SHELLS = ("bash", "zsh", "fish")
PLACEHOLDER = "@COMPANION_DATA@"
PYTEST_PLACEHOLDER = "@COMPANION_PYTEST_REPORT@"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("shell-init", help="print the shell hook to eval in your shell's rc file",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shell", choices=SHELLS, help="the shell the hook is for")
    parser.add_argument("--json", action="store_true", help="print {shell, spool, script} instead of the script")
    parser.set_defaults(func=run)


def default_data_dir() -> Path:
    """The data folder the hook falls back to when COMPANION_HOME is not set in the shell."""
    return Path(platformdirs.user_data_dir(paths.APP))


def quote(shell: str, value: str) -> str:
    """Quote a path as a single word for the given shell (fish treats backslashes in '' specially)."""
    if shell == "fish":
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + value.replace("'", "'\\''") + "'"


def hook_script(shell: str) -> str:
    if shell not in SHELLS:
        raise CommandError(f"no hook for {shell!r}; choose one of {', '.join(SHELLS)}")
    text = resources.files("companion.shell").joinpath("hooks", f"companion.{shell}").read_text(encoding="utf-8")
    return text.replace(PLACEHOLDER, quote(shell, str(default_data_dir()))).replace(PYTEST_PLACEHOLDER, _pytest_report())


def _pytest_report() -> str:
    """'1' when the user's config lets the hook ask pytest for a JUnit report (`[tests] pytest_report`)."""
    try:
        from companion.config import load_config

        return "1" if load_config(None).tests.pytest_report else "0"
    except Exception:  # a broken config must not break the shell: keep the default
        return "1"


def run(args: argparse.Namespace) -> int:
    script = hook_script(args.shell)
    try:  # make the spool folder now, private, so the shell does not have to
        from companion.shell.spool import spool_dir

        spool = spool_dir()
    except OSError:
        spool = None
    if args.json:
        print_json({"shell": args.shell, "spool": str(spool) if spool else None, "script": script})
    else:
        sys.stdout.write(script)
    return 0
