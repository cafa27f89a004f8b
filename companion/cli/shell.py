"""`companion shell [-- SHELL ARGS...]`: your shell under a pty proxy that keeps failed commands' output.

    companion shell                 your login shell ($SHELL)
    companion shell -- zsh -l       another shell, with its arguments
    companion shell -- -l           your shell, with arguments

Every byte passes through unchanged; with the shell hook loaded (`companion shell-init`), the tail
of each failed command's output (at most 200 lines, 64 KiB, ANSI stripped) reaches the daemon with
the command's record. `[shell] capture_output = "failed" | "all" | "off"` says which commands.
To make it your default, end your rc file with (bash/zsh; see docs/shell.md for fish):

    if [ -t 0 ] && [ "${COMPANION_PTY_TTY:-}" != "$(tty)" ] && command -v companion >/dev/null; then
        exec companion shell
    fi
"""

from __future__ import annotations

import argparse
import os

from companion.cli._common import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("shell", help="run your shell under a pty proxy that keeps failed commands' output",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shell_args", nargs=argparse.REMAINDER, metavar="-- SHELL ARGS",
                        help="the shell to run and its arguments (default: $SHELL)")
    parser.set_defaults(func=run)


def main(words: list[str]) -> int:
    """`companion shell ...` without building the whole command line (see companion.cli.main)."""
    import sys

    parser = argparse.ArgumentParser(prog="companion shell", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shell_args", nargs=argparse.REMAINDER)
    try:
        return run(parser.parse_args(words))
    except CommandError as exc:
        print(f"companion: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


def run(args: argparse.Namespace) -> int:
    from companion.config import load_config
    from companion.shell.pty_proxy import PTY_ENV, ProxyError, PtyProxy, nested, shell_argv
    from companion.shell.spool import spool_dir

    words = list(args.shell_args)
    if words and words[0] == "--":
        words = words[1:]
    owner = nested(os.environ)
    if owner:
        raise CommandError(f"this terminal already runs under companion shell (pid {owner}); "
                           "a second one inside it is refused: exit it first, or run your shell directly", code=1)
    try:
        mode = load_config(os.getcwd()).shell.capture_output
    except Exception:  # a broken config file must not keep the user out of their shell
        mode = "failed"
    try:
        spool = spool_dir()
    except OSError:
        mode, spool = "off", None
    environ = dict(os.environ)
    environ[PTY_ENV] = str(os.getpid())  # with COMPANION_PTY_TTY, set by the proxy for the shell's terminal
    argv = shell_argv(words, environ)
    try:
        return PtyProxy(argv, environ, spool, mode).run()  # type: ignore[arg-type]
    except ProxyError as exc:
        raise CommandError(str(exc), code=1) from None
