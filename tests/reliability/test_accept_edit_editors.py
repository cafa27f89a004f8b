"""Accepting an `edit` in an editor, with the engine on: the language server applies the patch in
the editor's buffer (a WorkspaceEdit, so it is in the editor's undo history) and then records the
accept; the daemon never writes the file, so nothing is applied twice. For the three shapes of
issue #13, through pytest-lsp clients with VS Code's and Neovim's capabilities, and in a real
headless Neovim. A patch that no longer applies to the buffer, or that the editor refuses, is
answered with the reason, and the proposal stays open."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from companion.services.editor import EditorService
from tests.conftest import wait_for
from tests.editors.conftest import CLIENTS, cleared, editor, until
from tests.editors.test_neovim import Nvim, neovim_installed, nvim  # noqa: F401  (the fixtures)
from tests.editors.test_units import apply_edits
from tests.engine.conftest import engine_factory  # noqa: F401  (the fixture)
from tests.reliability.edit_shapes import CALC, SHAPES, answers_of, engine_daemon, engine_proposal, propose

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(autouse=True)
def engine_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_ENGINE_ENABLED", "true")


def proposed(repo: Path, engine_factory: Callable[..., Any], shape: str) -> tuple[Any, Any]:
    daemon, proposal = engine_proposal(repo, engine_factory, SHAPES[shape])
    EditorService(daemon).start()  # the editors' own daemon operations, as a full daemon has them
    return daemon, proposal


async def opened(client: LanguageClient, repo: Path, text: str) -> str:
    uri = (repo / "calc.py").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    await until(lambda: client.diagnostics.get(uri), what="the proposal's diagnostic")
    return uri


async def accept_action(client: LanguageClient, uri: str, proposal: Any) -> Any:
    """The code action an editor offers on the proposal's line, run as the editor runs it."""
    (diagnostic,) = client.diagnostics[uri]
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic])))
    accept = actions[0]
    assert accept.title == f"Accept: {proposal.task}" and accept.edit is None  # the server applies, once
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=accept.command.command, arguments=accept.command.arguments))


@pytest.mark.parametrize("kind", sorted(CLIENTS))
@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_lsp_accept_applies_the_edit_in_the_buffer_once(repo: Path, engine_factory, kind: str, shape: str) -> None:
    daemon, proposal = proposed(repo, engine_factory, shape)
    async with editor(kind, repo) as client:
        uri = await opened(client, repo, CALC)
        result = await accept_action(client, uri, proposal)
        assert result["outcome"] == "accepted" and result["effect"] == "applied" and result["path"] == "calc.py"
        (applied,) = client.applied_edits
        assert applied.label == f"Companion: {proposal.task}" and list(applied.edit.changes) == [uri]
        assert apply_edits(CALC, applied.edit.changes[uri]) == SHAPES[shape].after  # the buffer
        await until(lambda: cleared(client, uri), what="the diagnostic cleared")
        told = [m.message for m in client.messages]
    assert "Companion applied the patch to calc.py (not saved yet; undo takes it back)." in told
    assert (repo / "calc.py").read_text() == CALC  # the daemon did not write it: the editor saves it
    assert daemon.store.proposal(proposal.id).status == "accepted"
    (answer,) = answers_of(daemon, proposal.id)
    assert answer.outcome == "accepted" and answer.via == kind


async def test_lsp_refuses_a_patch_that_no_longer_applies_to_the_buffer(repo: Path, engine_factory) -> None:
    daemon, proposal = proposed(repo, engine_factory, "C")
    async with editor("vscode", repo) as client:
        uri = await opened(client, repo, CALC)
        typed = CALC.replace("    return x * 2", "    return x * 3")  # typed in the editor, not saved
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=typed)]))
        with pytest.raises(Exception) as refused:
            await accept_action(client, uri, proposal)
        assert client.applied_edits == []
        assert client.diagnostics[uri]  # still shown: still open
    assert "did not accept “Fix: add the missing sub()”: the patch no longer applies: the hunk at line 9 expects " \
           "`return x * 2`, which is no longer in the file. The proposal stays open." in str(refused.value)
    assert daemon.store.proposal(proposal.id).status == "open" and answers_of(daemon, proposal.id) == []
    assert (repo / "calc.py").read_text() == CALC


async def test_an_edit_the_editor_refuses_is_not_accepted(repo: Path, engine_factory) -> None:
    daemon, proposal = proposed(repo, engine_factory, "B")
    async with editor("nvim", repo) as client:
        uri = await opened(client, repo, CALC)
        client.refuse_edits = "the buffer is read-only"
        with pytest.raises(Exception) as refused:
            await accept_action(client, uri, proposal)
    assert "the editor did not apply the patch (the buffer is read-only). The proposal stays open." in str(refused.value)
    assert daemon.store.proposal(proposal.id).status == "open" and answers_of(daemon, proposal.id) == []


async def test_an_accept_another_client_gave_first_is_told_as_it_is(repo: Path, engine_factory) -> None:
    """The TUI accepts (the daemon patches the file) while the editor applies the patch in its
    buffer: the editor's accept is not recorded, and the user is told so, and what to undo."""
    daemon, proposal = proposed(repo, engine_factory, "A")
    async with editor("vscode", repo) as client:
        uri = await opened(client, repo, CALC)
        client.while_applying = lambda: daemon.handlers["outcome"](
            {"proposal_id": proposal.id, "outcome": "accepted", "answer_s": 1.0, "via": "tui"}, None)
        with pytest.raises(Exception) as refused:
            await accept_action(client, uri, proposal)
        assert len(client.applied_edits) == 1  # in the buffer
        await until(lambda: cleared(client, uri), what="the diagnostic cleared")
    told = str(refused.value)
    assert (f"Companion applied the patch to calc.py in your editor, but “{proposal.task}” had already been accepted "
            "from another client, which applied the patch as well") in told
    assert "undo takes this editor's copy back. Your accept was not recorded." in told
    assert (repo / "calc.py").read_text() == SHAPES["A"].after  # the TUI's accept, applied by the daemon once
    assert daemon.store.proposal(proposal.id).status == "accepted"
    assert [a.via for a in answers_of(daemon, proposal.id)] == ["tui"]


async def test_accept_from_the_message_applies_the_edit_once(repo: Path, engine_factory) -> None:
    """The Accept button of the message an editor shows for a file it is not looking at."""
    daemon = engine_daemon(repo, engine_factory, SHAPES["B"])
    EditorService(daemon).start()
    async with editor("nvim", repo) as client:
        client.choice = "Accept"
        proposal = propose(daemon, repo, SHAPES["B"])
        await until(lambda: client.applied_edits, what="the edit applied from the message")
        uri = (repo / "calc.py").as_uri()
        (applied,) = client.applied_edits
        assert apply_edits(CALC, applied.edit.changes[uri]) == SHAPES["B"].after
        await until(lambda: daemon.store.proposal(proposal.id).status == "accepted", what="the accept stored")
        await until(lambda: any("applied the patch to calc.py" in m.message for m in client.messages), what="told")
    assert "Fix the missing import of sys" in client.message_requests[0].message
    assert (repo / "calc.py").read_text() == CALC
    assert [a.via for a in answers_of(daemon, proposal.id)] == ["nvim"]


needs_neovim = pytest.mark.usefixtures("neovim_installed")


def buffer_text(editor: Nvim, path: Path) -> str:
    code = f"table.concat(vim.api.nvim_buf_get_lines(vim.fn.bufnr({json.dumps(str(path))}), 0, -1, false), '\\n')"
    return editor.lua(code) + "\n"


def neovim_with_proposal(nvim: Callable[[str], Nvim], proposal: Any) -> Nvim:
    editor = nvim("calc.py")
    try:
        wait_for(lambda: editor.lua("require('companion').status.state") == "connected", timeout=60)
        wait_for(lambda: len(editor.lua("vim.diagnostic.get(0)") or []) == 1, timeout=30)
    except AssertionError:
        raise AssertionError(editor.diagnose()) from None
    return editor


@needs_neovim
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_neovim_accept_applies_the_edit_in_the_buffer_once(nvim, repo: Path, engine_factory, shape: str) -> None:
    daemon, proposal = proposed(repo, engine_factory, shape)
    editor = neovim_with_proposal(nvim, proposal)
    editor.command(f"call cursor({SHAPES[shape].line}, 1) | CompanionAccept")
    try:
        wait_for(lambda: daemon.store.proposal(proposal.id).status == "accepted", timeout=30)
    except AssertionError:
        raise AssertionError(editor.diagnose()) from None
    target = repo / "calc.py"
    wait_for(lambda: buffer_text(editor, target) == SHAPES[shape].after, timeout=10)
    assert target.read_text() == CALC  # in the buffer, not yet on disk
    wait_for(lambda: "Companion applied the patch to calc.py" in editor.expr("execute('messages')"), timeout=10)
    wait_for(lambda: editor.lua("#vim.diagnostic.get(0)") == 0, timeout=30)
    (answer,) = answers_of(daemon, proposal.id)
    assert answer.outcome == "accepted" and answer.via == "nvim"

    editor.command("write")
    assert target.read_text() == SHAPES[shape].after  # saved once: applied exactly once
    editor.command("undo")  # the patch is one step in Neovim's undo history
    assert buffer_text(editor, target) == CALC


@needs_neovim
def test_neovim_refuses_a_patch_that_no_longer_applies_to_the_buffer(nvim, repo: Path, engine_factory) -> None:
    daemon, proposal = proposed(repo, engine_factory, "A")
    editor = neovim_with_proposal(nvim, proposal)
    editor.command("call setline(5, '    return b - a')")  # typed, not saved
    editor.command("call cursor(5, 1) | CompanionAccept")
    wait_for(lambda: "the patch no longer applies" in editor.expr("execute('messages')"), timeout=30)
    messages = editor.expr("execute('messages')")
    assert "the hunk at line 4 expects `return a - b`" in messages and "The proposal stays open." in messages
    assert buffer_text(editor, repo / "calc.py") == CALC.replace("return a - b", "return b - a")
    assert daemon.store.proposal(proposal.id).status == "open" and answers_of(daemon, proposal.id) == []
    assert editor.lua("#vim.diagnostic.get(0)") == 1
