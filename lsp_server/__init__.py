"""`companion lsp`: the language server that brings companion's proposals into any LSP editor.

It attaches to the workspace's daemon (starting it when none runs), shows each surfaced
proposal as a diagnostic with code actions (or a message for proposals about no file), records
every answer as an outcome, and reports editor activity back as `editor.*` events. The VS Code
extension (`vscode-client/`) and the Neovim plugin (`lsp_server/nvim/`) are thin clients of it.
"""

from __future__ import annotations


def create_server():  # noqa: ANN201 - imported lazily so `companion --help` stays fast
    from lsp_server.features import create_server as create

    return create()
