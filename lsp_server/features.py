"""The LSP features of `companion lsp`, one small handler each (pygls's examples/servers style).

`create_server()` builds the server object and registers every handler on it. The handlers
only translate between LSP and `CompanionLanguageServer`, which holds the state.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.uris import to_fs_path

from companion.processes import alive
from lsp_server import answers, present, terminal
from lsp_server.server import CompanionLanguageServer

log = logging.getLogger("lsp_server")
COMMANDS = ("companion.accept", "companion.reject", "companion.snooze", "companion.status",
            "companion.pause", "companion.events")
FOCUS_NOTIFICATION = "companion/focus"


def workspace_root(params: types.InitializeParams) -> Path:
    """The folder the editor opened: the first workspace folder, else rootUri/rootPath, else cwd."""
    for uri in [f.uri for f in params.workspace_folders or []] + [params.root_uri]:
        if uri and (path := to_fs_path(uri)):
            return Path(path)
    return Path(params.root_path or os.getcwd())


def create_server() -> CompanionLanguageServer:
    server = CompanionLanguageServer()
    server.ask_user = lambda entry: answers.ask(server, entry)

    @server.feature(types.INITIALIZE)
    def initialize(ls: CompanionLanguageServer, params: types.InitializeParams) -> None:
        name = params.client_info.name if params.client_info else ""
        ls.attach(workspace_root(params), name, params.initialization_options)
        watch_parent(ls, params.process_id)

    @server.feature(types.INITIALIZED)
    def initialized(ls: CompanionLanguageServer, params: types.InitializedParams) -> None:
        ls.start_link()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: CompanionLanguageServer, params: Any) -> None:
        ls.stop_link()

    # -- documents: editor activity ----------------------------------------------------------
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CompanionLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        path = ls.path_of(params.text_document.uri)
        if path is None:
            return
        ls.activity.opened(path, params.text_document.language_id, params.text_document.text.count("\n") + 1)
        ls.activity.focused(path)
        ls.refresh({path})

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: CompanionLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        path = ls.path_of(params.text_document.uri)
        if path is not None:  # pygls has applied the change already: this is the new line count
            lines = len(ls.workspace.get_text_document(params.text_document.uri).lines)
            ls.activity.changed(path, list(params.content_changes), lines)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: CompanionLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        path = ls.path_of(params.text_document.uri)
        if path is not None:
            ls.activity.saved(path, len(ls.workspace.get_text_document(params.text_document.uri).lines))
            ls.refresh({path})

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CompanionLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        path = ls.path_of(params.text_document.uri)
        if path is not None:
            ls.activity.closed(path)

    @server.feature(FOCUS_NOTIFICATION)
    def focus(ls: CompanionLanguageServer, params: Any) -> None:
        """{"uri": ...} when the user switches files; {"windowFocused": bool} for the window."""
        params = as_dict(params)
        if isinstance(params.get("windowFocused"), bool):
            ls.activity.window_focus(params["windowFocused"])
        if params.get("uri") and (path := ls.path_of(str(params["uri"]))) is not None:
            ls.activity.focused(path)

    @server.feature(terminal.NOTIFICATION)
    def terminal_command(ls: CompanionLanguageServer, params: Any) -> None:
        """A finished command of VS Code's integrated terminal, with the tail of its output."""
        ls.terminal_command(as_dict(params))

    # -- proposals: code actions and commands -------------------------------------------------
    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    def code_action(ls: CompanionLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        return ls_code_actions(ls, params)

    @server.command("companion.accept")
    async def accept(ls: CompanionLanguageServer, *args: Any) -> dict[str, Any]:
        return await answers.answer(ls, answers.resolve(ls, args), "accepted")

    @server.command("companion.reject")
    async def reject(ls: CompanionLanguageServer, *args: Any) -> dict[str, Any]:
        return await answers.answer(ls, answers.resolve(ls, args), "rejected")

    @server.command("companion.snooze")
    async def snooze(ls: CompanionLanguageServer, *args: Any) -> dict[str, Any]:
        return await answers.answer(ls, answers.resolve(ls, args), "snoozed")

    @server.command("companion.status")
    def status(ls: CompanionLanguageServer, *args: Any) -> dict[str, Any]:
        return {**ls.status(), "proposals": [{**e.proposal.to_dict(), "shown": ls.shows(e.proposal)}
                                             for e in ls.book.entries()]}

    @server.command("companion.pause")
    def pause(ls: CompanionLanguageServer, *args: Any) -> dict[str, Any]:
        """Snooze every proposal in this editor: [minutes] sets it, [0] ends it, no argument toggles."""
        minutes = args[0] if args else (None if ls.quiet else 30)
        ls.set_quiet(float(minutes) if minutes else None)
        return ls.status()

    @server.command("companion.events")
    async def events(ls: CompanionLanguageServer, *args: Any) -> dict[str, Any]:
        """The rendered events that led to a proposal (for the VS Code tree view)."""
        entry = answers.resolve(ls, args)
        reply = await ls.request("proposal_events", proposal_id=entry.proposal.id)
        return {"proposal_id": entry.proposal.id, "events": reply.get("events", [])}

    # -- settings ------------------------------------------------------------------------------
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: CompanionLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if not settings and _can_pull_configuration(ls):
            pulled = await ls.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="companion")]))
            settings = pulled[0] if pulled else None
        if settings:
            ls.apply_settings(settings)

    return server


def ls_code_actions(ls: CompanionLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
    path = ls.path_of(params.text_document.uri)
    if path is None:
        return None
    entries = [e for e in ls.book.at(path, params.range.start.line, params.range.end.line) if ls.shows(e.proposal)]
    wanted = {str(d.code) for d in params.context.diagnostics if d.source == present.SOURCE}
    found = {e.proposal.id for e in entries}
    entries += [e for i in wanted - found if (e := ls.book.get(i)) is not None]
    if not entries:
        return None
    actions: list[types.CodeAction] = []
    for entry in entries:
        diagnostics = [d for d in params.context.diagnostics if str(d.code) == entry.proposal.id]
        actions.extend(present.code_actions(entry.proposal, diagnostics))
    return actions


def as_dict(params: Any) -> dict[str, Any]:
    """The params of a custom notification as a dict (pygls hands unknown methods' params over as
    named tuples)."""
    if hasattr(params, "_asdict"):
        return {k: as_dict(v) if hasattr(v, "_asdict") else v for k, v in params._asdict().items()}
    return dict(params) if isinstance(params, dict) else {}


def _can_pull_configuration(ls: CompanionLanguageServer) -> bool:
    workspace = ls.client_capabilities.workspace
    return bool(workspace and workspace.configuration)


def watch_parent(ls: CompanionLanguageServer, pid: int | None, interval: float = 3.0) -> None:
    """Exit when the editor process dies without closing our pipes (LSP's processId)."""
    if not pid or pid == os.getpid() or not alive(pid):
        return  # not visible from here (another PID namespace, e.g. a sandboxed editor): nothing to watch


    def watch() -> None:
        while True:
            threading.Event().wait(interval)
            if not alive(pid):
                log.warning("the editor (pid %s) is gone; companion lsp exits", pid)
                ls.stop_link()
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
