"""`companion lsp`: the language server on stdio, for VS Code, Neovim and any LSP editor.

stdout belongs to the protocol: anything else printed by mistake (a library's warning, a
stray print) is sent to stderr instead, where editors keep the server's log. `--tcp` serves
one editor over TCP for debugging (only when asked; nothing listens otherwise).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from companion.cli._common import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("lsp", help="the language server on stdio (VS Code, Neovim, any LSP editor)")
    parser.add_argument("--stdio", action="store_true", help="speak LSP on stdin/stdout (the default)")
    parser.add_argument("--tcp", metavar="HOST:PORT", help="serve over TCP instead, for debugging")
    parser.add_argument("--nvim-plugin", action="store_true",
                        help="print the folder of the Neovim plugin (add it to 'runtimepath') and exit")
    parser.set_defaults(func=run)


def parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--tcp takes HOST:PORT, e.g. 127.0.0.1:2087; got {text!r}")
    return host, int(port)


def nvim_plugin_folder() -> Path:
    """The Neovim plugin shipped inside the lsp_server package (package data), found from that
    package itself so it is right both in a source checkout and in site-packages."""
    import lsp_server

    return Path(lsp_server.__file__).resolve().parent / "nvim"


def run(args: argparse.Namespace) -> int:
    if args.nvim_plugin:
        folder = nvim_plugin_folder()
        if not (folder / "lua" / "companion" / "init.lua").is_file():
            raise CommandError(f"the Neovim plugin is missing from this installation (looked in {folder})")
        print(folder)
        return 0
    address = parse_address(args.tcp) if args.tcp else None
    protocol_out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but the protocol may reach the editor's pipe
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="companion-lsp %(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("pygls").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    from lsp_server import create_server
    from lsp_server.server import EditorPipe, LspLogHandler

    server = create_server()
    forward = LspLogHandler(server)
    forward.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("lsp_server").addHandler(forward)
    try:
        if address is not None:
            server.start_tcp(*address)
        else:
            server.start_io(sys.stdin.buffer, EditorPipe(protocol_out, server))
    finally:
        server.stop_link()
    return 0
