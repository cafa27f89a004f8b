"""Editor activity reaches the store as `editor.*` events (where and how much, never the text),
and the editor's settings change what it shows and what the daemon uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from companion.render import render
from tests.editors.conftest import cleared, offer, until

SECRET_TYPING = "hunter2-typed-in-the-editor"


def _position(line: int, character: int = 0) -> types.Position:
    return types.Position(line=line, character=character)


async def test_editor_activity_becomes_events_without_text(client: LanguageClient, daemon: Any, repo: Path) -> None:
    path = repo / "src" / "app.py"
    path.parent.mkdir()
    text = "def main():\n    pass\n"
    path.write_text(text)
    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    for version, line in enumerate((1, 1, 2), start=2):
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=_position(line, 4), end=_position(line, 4)), text=SECRET_TYPING + "\n")]))
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    client.protocol.notify("companion/focus", {"windowFocused": False})
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    kinds = ["editor.opened", "editor.focused", "editor.edited", "editor.saved", "editor.window", "editor.closed"]

    def stored() -> list[Any]:
        events = daemon.store.events(sources=["editor"])
        return events if [e.kind for e in events] == kinds else []

    events = await until(stored, what=f"the events {kinds}", details=lambda: [e.kind for e in daemon.store.events(sources=["editor"])])
    by_kind = {e.kind: e for e in events}
    assert by_kind["editor.opened"].data["path"] == "src/app.py"
    assert by_kind["editor.opened"].data["language"] == "python"
    edited = by_kind["editor.edited"].data
    assert edited["changes"] == 3 and edited["lines_added"] == 3 and edited["lines_removed"] == 0
    assert [list(r) for r in edited["ranges"]] == [[2, 4]]
    assert by_kind["editor.window"].data["focused"] is False
    assert all(SECRET_TYPING not in json.dumps(e.to_dict()) for e in events)
    assert render(by_kind["editor.edited"]) == \
        "The user edited `src/app.py` in the editor: 3 changes around lines 2-4 (+3/-0 lines)."


@pytest.mark.parametrize("client", ["vscode"], indirect=True)
async def test_files_outside_the_workspace_are_not_reported(client: LanguageClient, daemon: Any, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.py"
    outside.write_text("x = 1\n")
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=outside.as_uri(), language_id="python", version=1, text="x = 1\n")))
    inside = daemon.workspace / "inside.py"
    inside.write_text("y = 2\n")
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=inside.as_uri(), language_id="python", version=1, text="y = 2\n")))
    events = await until(lambda: daemon.store.events(kinds=["editor.opened"]), what="an open event")
    assert [e.data["path"] for e in events] == ["inside.py"]


@pytest.mark.parametrize("client", ["vscode"], indirect=True)
async def test_interruption_level_and_severity_settings(client: LanguageClient, daemon: Any, repo: Path) -> None:
    (repo / "a.py").write_text("x = 1\n")
    uri = (repo / "a.py").as_uri()
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"companion": {"interruptionLevel": 1, "diagnosticSeverity": "hint", "backend": "ollama",
                                "model": "qwen2.5-coder:1.5b"}}))
    # the daemon got the settings that are its own
    await until(lambda: daemon.config.general.interruption_level == 1, what="the daemon's level changed")
    assert daemon.config.agent.backend == "ollama" and daemon.config.agent.model == "qwen2.5-coder:1.5b"

    sure = offer(daemon, path="a.py", line=1, task="Sure thing", score=0.95)
    unsure = offer(daemon, path="a.py", line=1, task="Maybe this", score=0.4)
    diagnostics = await until(lambda: client.diagnostics.get(uri), what="a diagnostic")
    assert [d.code for d in diagnostics] == [sure.id]  # level 1 shows only the surest (the gate's 0.93)
    assert diagnostics[0].severity == types.DiagnosticSeverity.Hint

    # level 4 by the gate's own calibrated table (0.157), not a table of the editor's (0.35 was the default)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"companion": {"interruptionLevel": 4}}))
    faint = offer(daemon, path="a.py", line=1, task="Perhaps this", score=0.2)
    shown = await until(lambda: len(client.diagnostics.get(uri, [])) == 3 and client.diagnostics[uri],
                        what="three diagnostics at level 4")
    assert faint.id in {d.code for d in shown}
    assert daemon.config.general.interruption_level == 4

    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"companion": {"interruptionLevel": 5}}))
    await until(lambda: daemon.config.general.interruption_level == 5, what="the daemon's level 5")
    every = await until(lambda: len(client.diagnostics.get(uri, [])) == 3 and client.diagnostics[uri],
                        what="all diagnostics")
    assert {d.code for d in every} == {sure.id, unsure.id, faint.id}


@pytest.mark.parametrize("client", ["nvim"], indirect=True)
async def test_bad_setting_is_reported_and_ignored(client: LanguageClient, daemon: Any) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"companion": {"showMessage": "sometimes", "interruptionLevel": 9}}))
    await until(lambda: sum("Companion setting ignored" in m.message for m in client.messages) == 2,
                what="two warnings")
    status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="companion.status"))
    assert status["settings"]["show_message"] == "unfocused" and status["settings"]["interruption_level"] is None
    assert daemon.config.general.interruption_level == 3


@pytest.mark.parametrize("client", ["nvim"], indirect=True)
async def test_show_message_off_and_always(client: LanguageClient, daemon: Any, repo: Path) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"companion": {"showMessage": "off"}}))
    await until(lambda: client.status_notes[-1]["settings"]["show_message"] == "off", what="the setting applied")
    quiet = offer(daemon, path=None, task="A file-less proposal")
    await until(lambda: any(n["proposal"]["id"] == quiet.id for n in client.proposal_notes), what="the notification")
    assert client.message_requests == []

    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"companion": {"showMessage": "always"}}))
    await until(lambda: client.status_notes[-1]["settings"]["show_message"] == "always", what="the setting applied")
    (repo / "a.py").write_text("x = 1\n")
    offer(daemon, path="a.py", line=1, task="About a file")
    # now every open proposal asks: the file-less one held back by "off", and the one about a file
    requests = await until(lambda: len(client.message_requests) == 2 and client.message_requests,
                           what="two message requests")
    assert {r.message.splitlines()[0] for r in requests} == {"Companion: A file-less proposal",
                                                              "Companion: About a file"}


@pytest.mark.parametrize("client", ["vscode"], indirect=True)
async def test_pause_toggles_every_proposal_off_and_on(client: LanguageClient, daemon: Any, repo: Path) -> None:
    (repo / "a.py").write_text("x = 1\n")
    uri = (repo / "a.py").as_uri()
    proposal = offer(daemon, path="a.py", line=1)
    await until(lambda: client.diagnostics.get(uri), what="a diagnostic")
    status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="companion.pause"))
    assert status["snoozedUntil"] is not None
    await until(lambda: cleared(client, uri), what="diagnostics hidden while snoozed")
    status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="companion.pause"))
    assert status["snoozedUntil"] is None
    back = await until(lambda: client.diagnostics.get(uri), what="the diagnostic back")
    assert back[0].code == proposal.id
    assert daemon.store.proposal(proposal.id).status == "open"  # snoozing the editor answers nothing


@pytest.mark.parametrize("client", ["vscode"], indirect=True)
async def test_events_behind_a_proposal(client: LanguageClient, daemon: Any) -> None:
    from companion.events import Event

    event = Event(source="shell", kind="shell.command", workspace=str(daemon.workspace),
                  data={"command": "pytest -x", "exit_code": 1, "cwd": "."})
    daemon.store.add_events([event])
    proposal = offer(daemon, path=None, task="Explain the failure", event_ids=[event.id])
    await until(lambda: any(n["proposal"]["id"] == proposal.id for n in client.proposal_notes), what="the proposal")
    reply = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="companion.events", arguments=[proposal.id]))
    assert [e["id"] for e in reply["events"]] == [event.id]
    assert reply["events"][0]["text"] == render(event)
