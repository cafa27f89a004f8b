"""A proposal offered by the daemon reaches a real editor client as a diagnostic with code
actions, and every answer given in the editor lands in the store as an outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.editors.conftest import cleared, offer, until


def _open(client: LanguageClient, repo: Path, name: str, text: str) -> str:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    return uri


async def test_proposal_appears_as_diagnostic_with_code_actions(client: LanguageClient, daemon: Any, repo: Path) -> None:
    uri = _open(client, repo, "app.py", "import os\nimport client\n\nprint(client.VERSION)\n")
    proposal = offer(daemon, path="app.py", line=2, end_line=2, task="Explain the failing import",
                     response="`client` was renamed to `api_client` in the last commit.")

    diagnostics = await until(lambda: client.diagnostics.get(uri), what="a diagnostic")
    (diag,) = diagnostics
    assert diag.source == "companion"
    assert diag.message.startswith("Explain the failing import")
    assert diag.severity == types.DiagnosticSeverity.Information
    assert diag.range.start.line == 1 and diag.range.end.line == 1
    assert diag.code == proposal.id
    assert diag.related_information and "api_client" in diag.related_information[0].message

    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(line=1, character=3), end=types.Position(line=1, character=3)),
        context=types.CodeActionContext(diagnostics=[diag])))
    titles = [a.title for a in actions]
    assert titles[0] == "Accept: Explain the failing import"
    assert titles[1].startswith("Reject") and titles[2].startswith("Snooze 30 min")
    assert all(list(a.command.arguments) == [proposal.id] for a in actions)

    nothing = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(line=3, character=0), end=types.Position(line=3, character=0)),
        context=types.CodeActionContext(diagnostics=[])))
    assert not nothing

    assert any(n["proposal"]["id"] == proposal.id and n["change"] == "new" for n in client.proposal_notes)


async def test_accept_records_outcome_with_answer_time_and_shows_response(client: LanguageClient, daemon: Any,
                                                                          repo: Path) -> None:
    uri = _open(client, repo, "app.py", "import client\n")
    proposal = offer(daemon, path="app.py", line=1, operation="explain",
                     response="`client` moved to `api_client`.")
    await until(lambda: client.diagnostics.get(uri), what="a diagnostic")

    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="companion.accept", arguments=[proposal.id]))
    assert result["outcome"] == "accepted" and result["answer_s"] >= 0

    (stored, outcome), = daemon.store.outcomes()
    assert stored.id == proposal.id and stored.status == "accepted"
    assert outcome.outcome == "accepted" and outcome.via == client.kind
    assert outcome.answer_s is not None and abs(outcome.answer_s - result["answer_s"]) < 1e-6
    await until(lambda: cleared(client, uri), what="the diagnostic cleared")
    if client.kind == "vscode":  # VS Code shows documents: the explanation opens as markdown
        (shown,) = client.shown_documents
        page = Path(shown.uri.removeprefix("file://"))
        assert page.suffix == ".md" and "api_client" in page.read_text()
    else:  # Neovim 0.7 cannot: the explanation comes as a message
        assert any("api_client" in m.message for m in client.messages)


@pytest.mark.parametrize("client", ["nvim"], indirect=True)
async def test_reject_and_snooze_are_stored(client: LanguageClient, daemon: Any, repo: Path) -> None:
    uri = _open(client, repo, "a.py", "x = 1\ny = 2\n")
    first = offer(daemon, path="a.py", line=1, task="Rename x")
    second = offer(daemon, path="a.py", line=2, task="Rename y")
    await until(lambda: len(client.diagnostics.get(uri, [])) == 2, what="two diagnostics")

    await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="companion.reject", arguments=[first.id]))
    await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="companion.snooze", arguments=[{"uri": uri, "line": 1}]))  # the one on that line

    answers = {p.id: (o.outcome, o.answer_s) for p, o in daemon.store.outcomes()}
    assert answers[first.id][0] == "rejected" and answers[second.id][0] == "snoozed"
    assert all(seconds is not None and seconds >= 0 for _, seconds in answers.values())
    assert daemon.store.proposal(second.id).status == "snoozed"
    await until(lambda: cleared(client, uri), what="both diagnostics cleared")


async def test_accepted_edit_is_applied_as_workspace_edit(client: LanguageClient, daemon: Any, repo: Path) -> None:
    text = "import os\nimport client\n\nprint(client.VERSION)\n"
    uri = _open(client, repo, "app.py", text)
    diff = ("--- a/app.py\n+++ b/app.py\n@@ -1,4 +1,4 @@\n import os\n-import client\n+import api_client as client\n"
            " \n print(client.VERSION)\n")
    proposal = offer(daemon, path="app.py", line=2, operation="edit", task="Fix the renamed import", response=diff)
    await until(lambda: client.diagnostics.get(uri), what="a diagnostic")

    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="companion.accept", arguments=[proposal.id]))
    assert result["effect"] == "applied"
    (applied,) = client.applied_edits
    edits = applied.edit.changes[uri]
    lines = text.splitlines(keepends=True)
    for edit in sorted(edits, key=lambda e: e.range.start.line, reverse=True):
        lines[edit.range.start.line:edit.range.end.line] = [edit.new_text]
    assert "".join(lines) == "import os\nimport api_client as client\n\nprint(client.VERSION)\n"
    assert daemon.store.proposal(proposal.id).status == "accepted"


async def test_file_less_proposal_asks_with_a_message(client: LanguageClient, daemon: Any) -> None:
    client.choice = "Accept"
    proposal = offer(daemon, path=None, task="Run the tests again", operation="run_command", response="pytest -x")

    request = await until(lambda: client.message_requests, what="a message request")
    assert "Run the tests again" in request[0].message
    assert [a.title for a in request[0].actions] == ["Accept", "Reject", "Snooze 30 min"]
    await until(lambda: daemon.store.proposal(proposal.id).status == "accepted", what="the accept stored")
    (_, outcome), = daemon.store.outcomes()
    assert outcome.via == client.kind and outcome.answer_s is not None


@pytest.mark.parametrize("client", ["vscode"], indirect=True)
async def test_answer_from_elsewhere_clears_the_diagnostic(client: LanguageClient, daemon: Any, repo: Path) -> None:
    from companion.ipc import Client
    from companion import paths

    uri = _open(client, repo, "a.py", "x = 1\n")
    proposal = offer(daemon, path="a.py", line=1)
    await until(lambda: client.diagnostics.get(uri), what="a diagnostic")
    with Client(paths.socket_file(repo)) as cli:  # e.g. `companion reject ID` in a terminal
        cli.request("outcome", proposal_id=proposal.id, outcome="rejected", via="cli")
    await until(lambda: cleared(client, uri), what="the diagnostic cleared")


@pytest.mark.parametrize("client", ["nvim"], indirect=True)
async def test_unknown_proposal_is_an_error_not_a_hang(client: LanguageClient) -> None:
    with pytest.raises(Exception, match="no open companion proposal"):
        await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="companion.accept", arguments=["nope"]))
