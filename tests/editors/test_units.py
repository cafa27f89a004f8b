"""The pure parts of the language server: patches to text edits, settings, the proposal book,
edit throttling, the presentation of proposals, and what becomes of an editor event the daemon
refuses or never gets."""

from __future__ import annotations

import asyncio
import difflib
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st
from lsprotocol import types

from companion.ipc import IpcError, IpcRefused
from companion.proposals import Proposal
from lsp_server import present
from lsp_server.activity import EditorActivity, change_summary
from lsp_server.book import ProposalBook, visible
from companion.patching import PatchError, apply_to_text, parse
from lsp_server.answers import text_edits
from lsp_server.server import CompanionLanguageServer
from tests.editors.conftest import until
from lsp_server.settings import EditorSettings, updated


def apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """What an editor does with the edits (all positioned against the original text)."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def offset(position: types.Position) -> int:
        if position.line >= len(lines):
            return len(text)
        return offsets[position.line] + position.character

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[:offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end):]
    return text


def unified(before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        "a/f.py", "b/f.py"))


line_text = st.text(alphabet="abcxyz =()", max_size=12)


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.lists(line_text, max_size=30), st.lists(line_text, max_size=30))
def test_any_diff_between_two_texts_turns_one_into_the_other(before_lines: list[str], after_lines: list[str]) -> None:
    before = "".join(line + "\n" for line in before_lines)
    after = "".join(line + "\n" for line in after_lines)
    diff = unified(before, after)
    if not diff:
        return
    assert apply_edits(before, text_edits(before, diff)) == after


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.lists(line_text, max_size=20), st.lists(line_text, max_size=20), st.booleans(), st.sampled_from(["\n", "\r\n"]))
def test_the_editor_and_the_daemon_make_the_same_text(before_lines: list[str], after_lines: list[str],
                                                     unterminated: bool, newline: str) -> None:
    """The text edits the editor applies give exactly what the daemon writes for the same patch,
    whether the file ends with a line break or not, and whatever break it uses."""
    diff = unified("".join(line + "\n" for line in before_lines), "".join(line + "\n" for line in after_lines))
    if not diff or (unterminated and before_lines and before_lines[-1] == ""):
        return  # (an unterminated empty last line is no line at all)
    before = newline.join(before_lines) + ("" if unterminated else newline if before_lines else "")
    assert apply_edits(before, text_edits(before, diff)) == apply_to_text(before, diff)


def test_a_hunk_that_moved_is_found_nearby() -> None:
    before = "a\nb\nc\nd\n"
    diff = unified(before, "a\nB\nc\nd\n")
    typed_since = "new first line\nanother\n" + before  # the user added lines above
    assert apply_edits(typed_since, text_edits(typed_since, diff)) == "new first line\nanother\na\nB\nc\nd\n"


def test_last_line_without_newline_stays_without() -> None:
    before = "x = 1\ny = 2"
    diff = "@@ -2 +2 @@\n-y = 2\n+y = 3\n\\ No newline at end of file\n"
    assert apply_edits(before, text_edits(before, diff)) == "x = 1\ny = 3"


def test_a_patch_that_no_longer_applies_is_refused() -> None:
    diff = unified("a\nb\n", "a\nc\n")
    with pytest.raises(PatchError, match="no longer in the file"):
        text_edits("totally\ndifferent\n", diff)
    with pytest.raises(PatchError, match="not a unified diff"):
        parse("just some prose, no diff")


def test_settings_read_camel_and_snake_case_and_keep_good_values_on_errors() -> None:
    base = EditorSettings()
    vscode = updated(base, {"companion": {"interruptionLevel": 2, "showMessage": "always", "diagnosticSeverity": "hint"}})
    assert (vscode.interruption_level, vscode.show_message, vscode.diagnostic_severity) == (2, "always", "hint")
    nvim = updated(vscode, {"interruption_level": None, "backend": "ollama", "model": "m", "somethingElse": 1})
    assert nvim.interruption_level is None and nvim.daemon_updates() == {"agent": {"backend": "ollama", "model": "m"}}
    bad = updated(nvim, {"showMessage": "loud", "interruptionLevel": 0, "editFlushSeconds": -1, "startDaemon": "maybe"})
    assert bad.show_message == "always" and bad.interruption_level is None and bad.start_daemon is True
    assert len(bad.errors) == 4
    assert updated(base, {"interruptionLevel": 4}).daemon_updates() == {"general": {"interruption_level": 4}}


def test_settings_accept_what_a_person_types() -> None:
    typed = updated(EditorSettings(), {"companion": {
        "interruptionLevel": " 3 ", "showMessage": "Always", "diagnosticSeverity": "Info", "diagnostics": "false",
        "backend": "llama.cpp", "model": " qwen ", "startDaemon": "No", "editFlushSeconds": "0.5"}})
    assert typed.errors == []
    assert (typed.interruption_level, typed.show_message, typed.diagnostic_severity, typed.diagnostics) == (3, "always", "information", False)
    assert (typed.backend, typed.model, typed.start_daemon, typed.edit_flush_s) == ("llama_cpp", "qwen", False, 0.5)
    assert updated(EditorSettings(), {"interruptionLevel": "", "showMessage": False}).show_message == "off"
    assert updated(EditorSettings(), {"interruptionLevel": 2.5}).errors == ["interruptionLevel must be 1 to 5 or empty, got 2.5"]
    assert updated(EditorSettings(), {"startDaemon": 0}).start_daemon is False


def _proposal(**fields: Any) -> Proposal:
    return Proposal(**{"task": "t", "surfaced": True, "score": 0.6, **fields})


def test_book_finds_proposals_by_line_and_prefix() -> None:
    book = ProposalBook()
    first = _proposal(path="a.py", line=3, end_line=5, ts=1)
    second = _proposal(path="a.py", line=10, ts=2)
    loose = _proposal(path=None, ts=3)
    for proposal in (first, second, loose):
        book.add(proposal)
    assert [e.proposal.id for e in book.at("a.py", 4, 4)] == [first.id]
    assert [e.proposal.id for e in book.at("a.py", 0, 20)] == [second.id, first.id]
    assert book.at("a.py", 6, 8) == []
    assert book.get(first.id[:6]).proposal is first
    shown_at = book.get(first.id).shown_at
    book.add(_proposal(path="b.py", line=1, id=first.id, ts=1))  # moved to another file
    assert book.at("a.py", 4, 4) == [] and book.get(first.id).shown_at == shown_at
    assert book.paths() == {"a.py", "b.py"}
    book.remove(second.id)
    assert book.paths() == {"b.py"}
    assert [e.proposal.id for e in book.entries()] == [loose.id, first.id]


def test_visibility_follows_the_gate_and_the_editor_level() -> None:
    card = {1: 0.9, 2: 0.6, 3: 0.3, 4: 0.157, 5: 0.05}  # a calibrated gate's own table, sent by the daemon
    assert visible(_proposal(score=0.6), None, card)
    assert not visible(_proposal(surfaced=False), None, card)
    assert not visible(_proposal(status="accepted"), None, card)
    assert not visible(_proposal(score=0.6), 1, card) and visible(_proposal(score=0.95), 1, card)
    assert visible(_proposal(score=0.2), 4, card)  # 0.35 in the old default table: the gate's own decides
    assert not visible(_proposal(score=0.1), 4, card)
    assert visible(_proposal(score=None), 1, card)
    assert visible(_proposal(score=0.1), 1, None)  # no table from the daemon: its `surfaced` decides alone


def test_edits_are_gathered_into_one_event_per_file() -> None:
    sent: list[list[dict[str, Any]]] = []
    timers: list[Any] = []
    activity = EditorActivity(sent.append, lambda delay, fn: timers.append(fn), flush_s=2.0, editor="Neovim")
    activity.opened("a.py", "python", 10)

    def change(line: int, text: str, end: int | None = None) -> Any:
        return types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=line, character=0),
                              end=types.Position(line=end if end is not None else line, character=0)), text=text)

    activity.changed("a.py", [change(4, "x"), change(5, "y\nz\n")], 12)
    activity.changed("a.py", [change(20, "", end=23)], 9)
    assert len(timers) == 1 and len(sent) == 1  # only the open so far
    timers[0]()
    (edited,) = sent[1]
    assert edited["kind"] == "editor.edited" and edited["data"]["editor"] == "Neovim"
    assert edited["data"]["changes"] == 3 and edited["data"]["lines_added"] == 2 and edited["data"]["lines_removed"] == 3
    assert edited["data"]["ranges"] == [[5, 8], [21, 21]]
    assert activity.focused("a.py") and not activity.focused("a.py")
    full = types.TextDocumentContentChangeWholeDocument(text="1\n2\n3\n")
    assert change_summary(full, 10) == (1, 3, 0, 7)


def test_diagnostic_and_actions_of_a_proposal() -> None:
    proposal = _proposal(path="a.py", line=2, end_line=3, task="Fix it", response="do this", operation="explain")
    with_related = present.diagnostic(proposal, "file:///w/a.py", ["l1", "line two", "l3é"], "hint", True)
    assert with_related.range == types.Range(start=types.Position(line=1, character=0),
                                             end=types.Position(line=2, character=3))
    assert with_related.severity == types.DiagnosticSeverity.Hint and with_related.message == "Fix it"
    assert with_related.related_information[0].message == "Explanation: do this"
    plain = present.diagnostic(proposal, "file:///w/a.py", None, "information", False)
    assert plain.message == "Fix it\nExplanation: do this" and plain.range.end == types.Position(line=3, character=0)
    titles = [a.title for a in present.code_actions(proposal, [])]
    assert titles == ["Accept: Fix it", "Reject (Fix it)", "Snooze 30 min (Fix it)"]
    command = _proposal(operation="run_command", response="pytest -x", task="Run the tests")
    assert "```sh\npytest -x\n```" in present.markdown_page(command)


def test_doctor_checks_for_the_editors(repo: Any) -> None:
    from lsp_server.checks import language_server, neovim_plugin

    server, plugin = language_server(repo), neovim_plugin(repo)
    assert server.ok and "pygls 2" in server.detail
    assert plugin.ok and plugin.detail.startswith(str(Path(__file__).resolve().parents[2] / "lsp_server" / "nvim"))


def test_the_why_of_a_rule_proposal_shows_the_evidence_and_the_rule() -> None:
    evidence = {"failure": {"test": "tests/test_a.py::test_x", "message": "AssertionError: assert 1 == 2",
                            "path": "tests/test_a.py", "line": 4},
                "suspect": {"path": "src/a.py", "line": 7, "removed": ["x = 1"], "added": ["x = 2"]}}
    proposal = _proposal(path="src/a.py", line=7, task="Open src/a.py:7", response="src/a.py:7 changed",
                         operation="open", rule="regression.revert", evidence=evidence)
    related = present.diagnostic(proposal, "file:///w/src/a.py", None, "hint", True).related_information
    why = related[-1].message
    assert why.startswith("Why: tests/test_a.py::test_x failed: AssertionError: assert 1 == 2 (tests/test_a.py:4)")
    assert "src/a.py line 7: `x = 1` → `x = 2`" in why and why.endswith("rule: regression.revert")
    plain = present.diagnostic(proposal, "file:///w/src/a.py", None, "hint", False).message
    assert "\nWhy: tests/test_a.py::test_x failed" in plain
    page = present.markdown_page(proposal)
    assert "## Why\n\n- tests/test_a.py::test_x failed" in page and "- rule: regression.revert" in page


def test_a_proposal_page_is_the_users_alone_whatever_the_editors_umask(tmp_path: Path) -> None:
    proposal = _proposal(task="Explain the failure", response="a secret-looking line", operation="explain")
    old_umask = os.umask(0o022)  # the language server runs under the editor's umask, not the daemon's
    try:
        page = present.write_page(tmp_path / "proposals", proposal)
    finally:
        os.umask(old_umask)
    assert page.read_text().startswith("# Explain the failure")
    assert stat.S_IMODE(page.stat().st_mode) == 0o600 and stat.S_IMODE(page.parent.stat().st_mode) == 0o700


class _Link:
    """The daemon link as emit_events sees it: connected, every emit answered with `error`."""

    connected = True

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.sent: list[list[dict[str, Any]]] = []

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        self.sent.append(fields["events"])
        raise self.error


async def test_a_refused_emit_is_dropped_and_a_lost_one_waits_for_the_daemon() -> None:
    server = CompanionLanguageServer()
    server.loop = asyncio.get_running_loop()
    opened = {"source": "editor", "kind": "editor.opened", "data": {"path": "a.py"}}

    refused = _Link(IpcRefused({"ok": False, "error": "emit takes events of sources ('shell', 'editor', 'tests')"}))
    server.link = refused  # type: ignore[assignment]
    server.emit_events([opened])
    await until(lambda: refused.sent, what="the emit sent")
    await asyncio.sleep(0.2)  # time for a requeue, were there one
    assert not server._unsent, "a batch the daemon refused would be refused again, forever"

    lost = _Link(IpcError("lost the companion daemon: [Errno 32] Broken pipe"))
    server.link = lost  # type: ignore[assignment]
    server.emit_events([opened])
    await until(lambda: server._unsent, what="the lost batch back in the queue")
    (waiting,) = server._unsent
    assert waiting["id"] == lost.sent[0][0]["id"]  # the same id: a resend stores it once
