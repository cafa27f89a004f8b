"""Long companion commands (`train reward`, its `--rollback`) run from the dashboard as subprocesses.

The dashboard never imports training code: it runs `python -m companion ...` like a person
would, streams its output line by line (tqdm's carriage-return updates included) and reads a
progress fraction from it. Whether a command exists is read from the CLI's own parser, so a
command another part of companion has not shipped yet shows as "not available" instead of
failing at the press of a button.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from typing import Callable, Sequence

_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s?%")
_FRACTION = re.compile(r"(?<![\w.])(\d+)\s?/\s?(\d+)(?![\w.])")


def parse_progress(text: str) -> float | None:
    """A progress fraction in 0..1 from a line such as `epoch 1: 45%|####  | 9/20 [...]`."""
    fraction = _FRACTION.findall(text)
    if fraction:
        done, total = (int(x) for x in fraction[-1])
        if total > 0 and done <= total:
            return done / total
    percent = _PERCENT.findall(text)
    if percent:
        value = float(percent[-1])
        if 0 <= value <= 100:
            return value / 100
    return None


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps subcommands here and nowhere public
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def find_command(words: Sequence[str]) -> argparse.ArgumentParser | None:
    """The parser of `companion WORDS...`, or None when this installation lacks that command."""
    from companion.cli import build_parser

    parser: argparse.ArgumentParser | None = build_parser()
    for word in words:
        parser = _subparsers(parser).get(word) if parser is not None else None
    return parser


def command_options(words: Sequence[str]) -> set[str] | None:
    """The option strings of a command (e.g. {'--rollback', ...}), None when it does not exist."""
    parser = find_command(words)
    if parser is None:
        return None
    return {option for action in parser._actions for option in action.option_strings}


def run_streaming(args: Sequence[str], on_line: Callable[[str], None], on_progress: Callable[[float], None],
                  should_stop: Callable[[], bool] = lambda: False, program: Sequence[str] | None = None) -> int:
    """Run `companion ARGS` (or PROGRAM ARGS); call on_line per output line, on_progress per update."""
    command = [*(program or (sys.executable, "-m", "companion")), *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=os.environ.copy())
    assert process.stdout is not None
    pending = b""
    try:
        while True:
            if should_stop():
                process.terminate()
                break
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            pending += chunk
            *pieces, pending = re.split(rb"[\r\n]", pending)
            for piece in pieces:
                _emit(piece, on_line, on_progress)
        if pending:
            _emit(pending, on_line, on_progress)
    finally:
        process.stdout.close()
    return process.wait()


def _emit(piece: bytes, on_line: Callable[[str], None], on_progress: Callable[[float], None]) -> None:
    text = piece.decode(errors="replace").rstrip()
    if not text:
        return
    progress = parse_progress(text)
    if progress is not None:
        on_progress(progress)
    on_line(text)
