"""The `companion` command. Each module of this package registers its own subcommands with a
`register(subparsers)` function, so commands are added without touching a central list.

Installed packages add commands the same way through the `companion.commands` entry-point group
(training/ contributes `train` and `export` so): the command-line shell never imports the layers
above it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from importlib.metadata import entry_points
from typing import Sequence

from companion import __version__
from companion.cli._common import CommandError as CommandError  # re-exported: it lives in _common so no command imports this package


# Commands with sub-commands contributed by several modules: a module defines
# `register_train(subparsers)` to add `companion train NAME`, and likewise for eval and export.
GROUPS = {
    "train": "personalise: retrain the reward gate, fine-tune the agent, search SVD pruning",
    "eval": "ProactiveBench-style evaluation of the gate or the agent",
    "export": "export your data or a fine-tuned model",
}


PLUGIN_GROUP = "companion.commands"  # modules of other installed packages with the same register functions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="companion",
        description="A proactive coding companion: watches your work, proposes help, learns from your answers.",
    )
    parser.add_argument("--version", action="version", version=f"companion {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging details to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    import companion.cli as package

    modules = [importlib.import_module(f"{package.__name__}.{info.name}")
               for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name)
               if not info.name.startswith("_")]
    modules += [entry.load() for entry in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name)]
    for module in modules:
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)
    for group, help_text in GROUPS.items():
        contributors = [getattr(m, f"register_{group}") for m in modules if callable(getattr(m, f"register_{group}", None))]
        if not contributors:
            continue
        group_parser = subparsers.add_parser(group, help=help_text)
        group_subparsers = group_parser.add_subparsers(dest=f"{group}_command", metavar="WHAT")
        group_parser.set_defaults(func=lambda args, p=group_parser: p.print_help() or 2)
        for contribute in contributors:
            contribute(group_subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["shell"] and not {"-h", "--help"} & set(words[1:2]):
        # every new terminal may start with `exec companion shell`: skip importing every command
        from companion.cli.shell import main as shell_main

        return shell_main(words[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from companion.config import ConfigError
    from companion.ipc import IpcError
    from companion.store import StoreError

    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CommandError as exc:
        print(f"companion: {exc}", file=sys.stderr)
        return exc.code
    except (ConfigError, StoreError, IpcError, FileNotFoundError, ValueError) as exc:
        print(f"companion: {exc}", file=sys.stderr)
        return 2
