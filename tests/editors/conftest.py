"""Fixtures of the editor tests: a real in-process daemon on a real git repository, and a real
`companion lsp` subprocess driven by pytest-lsp's client with the capabilities of VS Code or of
Neovim (the JSON capability sets pytest-lsp ships, captured from those editors).

The client records what an editor would show: diagnostics (pytest-lsp), messages, documents
shown, message requests (answered with `client.choice`), edits to apply, and companion's own
notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Union

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities, make_test_lsp_client

from companion.proposals import Proposal
from companion.gate.head import load_heads
from companion.gate.reward import active_weights_dir
from companion.services.editor import EditorService
from companion.services.settings import SettingsService

CLIENTS = {"vscode": "visual-studio-code", "nvim": "neovim@v0.7.0"}
SERVER = [sys.executable, "-m", "companion", "lsp"]


async def until(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition",
                details: Callable[[], Any] | None = None) -> Any:
    """Wait on the test's event loop (so the client keeps reading) until predicate() is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"{what} not met within {timeout} s" + (f"; found {details()!r}" if details else ""))


def record_editor_side(client: LanguageClient) -> None:
    """Client handlers for the requests and notifications companion sends beyond pytest-lsp's."""
    client.applied_edits: list[types.ApplyWorkspaceEditParams] = []  # type: ignore[misc]
    client.message_requests: list[types.ShowMessageRequestParams] = []  # type: ignore[misc]
    client.choice: str | None = None  # type: ignore[misc]
    client.proposal_notes: list[dict[str, Any]] = []  # type: ignore[misc]
    client.status_notes: list[dict[str, Any]] = []  # type: ignore[misc]
    fix_code_action_parsing(client)

    client.refuse_edits: str | None = None  # type: ignore[misc]  # a reason: the editor refuses edits
    client.while_applying: Callable[[], None] | None = None  # type: ignore[misc]  # e.g. another client answers

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        if client.refuse_edits:
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason=client.refuse_edits)
        if client.while_applying is not None:
            client.while_applying()
        client.applied_edits.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def message_request(params: types.ShowMessageRequestParams) -> types.MessageActionItem | None:
        client.message_requests.append(params)
        return types.MessageActionItem(title=client.choice) if client.choice else None

    @client.feature("companion/proposal")
    def proposal_note(params: Any) -> None:
        client.proposal_notes.append(plain(params))

    @client.feature("companion/status")
    def status_note(params: Any) -> None:
        client.status_notes.append(plain(params))


def plain(value: Any) -> Any:
    """The params of a custom notification as dicts and lists (pygls hands them over as named tuples)."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def fix_code_action_parsing(client: LanguageClient) -> None:
    """lsprotocol's client-side hook reads every CodeAction that has a `command` as a bare Command
    (lsprotocol 2025.0.0, `_code_action_hook`); a Command's `command` is a string, a CodeAction's is
    an object. Real editors tell them apart that way, so the test client does too."""
    converter = client.protocol._converter

    def structure(value: Any, _: type) -> types.Command | types.CodeAction:
        if isinstance(value.get("command"), str):
            return converter.structure(value, types.Command)
        return converter.structure(value, types.CodeAction)

    converter.register_structure_hook(Union[types.Command, types.CodeAction], structure)


def connected(client: LanguageClient) -> bool:
    return bool(client.status_notes) and client.status_notes[-1]["state"] == "connected"


def initialize_params(kind: str, root: Path, options: dict[str, Any] | None = None) -> types.InitializeParams:
    name = "Visual Studio Code" if kind == "vscode" else "Neovim"
    return types.InitializeParams(
        capabilities=client_capabilities(CLIENTS[kind]), root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        client_info=types.ClientInfo(name=name, version="test"),
        initialization_options={"editFlushSeconds": 0.2, **(options or {})})


@pytest.fixture
def daemon(daemon_factory: Callable[..., Any], repo: Path) -> Any:
    """The workspace's daemon, in this process (no engine), with the editor and settings services'
    operations, and the shipped reward gate's table in its status (as the engine reports it)."""
    running = daemon_factory(repo, services=False)
    for service in (EditorService(running), SettingsService(running)):
        service.start()
        running.services.append(service)
    table = load_heads(active_weights_dir())[1]["thresholds"]
    running.status_providers.append(lambda: {"gate": {"kind": "reward", "thresholds": dict(table)}})
    return running


def offer(daemon: Any, **fields: Any) -> Proposal:
    values = {"task": "Explain the failing import", "response": "The module was renamed.",
              "operation": "explain", "surfaced": True, "score": 0.8, **fields}
    return daemon.offer(Proposal(**values))


@contextlib.asynccontextmanager
async def editor(kind: str, root: Path, options: dict[str, Any] | None = None,
                 wait: bool = True) -> AsyncIterator[LanguageClient]:
    """A `companion lsp` subprocess with a client of `kind`, for tests that need several or
    need to break things; shut down (or stopped) at the end."""
    lsp = make_test_lsp_client()
    record_editor_side(lsp)
    lsp.kind = kind  # type: ignore[attr-defined]
    await lsp.start_io(*SERVER)
    try:
        await lsp.initialize_session(initialize_params(kind, root, options))
        if wait:
            await until(lambda: connected(lsp), timeout=60, what="the server attaching to the daemon")
        yield lsp
    finally:
        server = lsp._server
        if server is not None and server.returncode is None:
            try:
                await asyncio.wait_for(lsp.shutdown_session(), 15)
            except Exception:
                server.kill()
        await lsp.stop()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), params=sorted(CLIENTS))
async def client(lsp_client: LanguageClient, request: pytest.FixtureRequest, daemon: Any, repo: Path):
    """An initialised editor of each kind, attached to `daemon`."""
    record_editor_side(lsp_client)
    lsp_client.kind = request.param  # type: ignore[attr-defined]
    await lsp_client.initialize_session(initialize_params(request.param, repo))
    await until(lambda: connected(lsp_client), what="the server attaching to the daemon")
    yield
    await lsp_client.shutdown_session()


def cleared(client: LanguageClient, uri: str) -> bool:
    """The server published an empty diagnostic list for `uri` (its proposals are answered)."""
    return uri in client.diagnostics and len(client.diagnostics[uri]) == 0
