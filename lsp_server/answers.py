"""Answering a proposal from the editor: record the outcome, and do what an accept means.

An accepted `edit` is applied by the editor, never by the daemon: its hunks are located in the
editor's buffer by the one patch engine (companion/patching.py), sent as a WorkspaceEdit (so the
change lands in the editor's undo history), and only once the editor says it applied them is the
accept recorded, with `applied_by: "client"`. A patch that no longer applies to the buffer, or
that the editor refuses, is answered with the reason and records nothing: the proposal stays open.
Every other answer is stored first (with the seconds since this editor showed the proposal); then
an `explain` or `run_command` opens its response (a markdown page, or a message where the editor
cannot show documents) and an `open` shows the file at its line. Nothing is ever run: a command
is only shown.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from companion import paths, patching
from companion.ipc import IpcError, IpcRefused
from lsp_server import present
from lsp_server.book import Entry

if TYPE_CHECKING:
    from lsp_server.server import CompanionLanguageServer

log = logging.getLogger("lsp_server")
OUTCOME_OF = {present.ACCEPT: "accepted", present.REJECT: "rejected", present.SNOOZE: "snoozed"}


class AnswerError(RuntimeError):
    """The answer could not be given (no such proposal, or no daemon to record it)."""


class AnsweredElsewhere(AnswerError):
    """The daemon had the proposal answered already (`status`), from another client: this answer
    was not recorded."""

    def __init__(self, task: str, status: str) -> None:
        super().__init__(f"Companion did not record your answer: “{task}” was already {status} "
                         "from another client")
        self.status = status


def resolve(ls: "CompanionLanguageServer", args: tuple[Any, ...]) -> Entry:
    """The proposal a command means: an id, {"id"}, {"uri", "line"} (the proposal on that line,
    as Neovim's :CompanionAccept sends), or nothing (the newest open proposal)."""
    target = args[0] if args else None
    if isinstance(target, dict):
        proposal_id = target.get("id") or target.get("proposal_id")
        if proposal_id:
            target = str(proposal_id)
        elif target.get("uri"):
            path = ls.path_of(str(target["uri"]))
            line = int(target.get("line") or 0)
            found = [e for e in ls.book.at(path, line, line) if ls.shows(e.proposal)] if path else []
            if found:
                return found[0]
            target = None
    if isinstance(target, str) and target:
        entry = ls.book.get(target)
        if entry is None:
            raise AnswerError(f"no open companion proposal {target!r} in this editor")
        return entry
    shown = [e for e in ls.book.entries() if ls.shows(e.proposal)]
    if not shown:
        raise AnswerError("there is no open companion proposal to answer")
    return shown[0]


async def answer(ls: "CompanionLanguageServer", entry: Entry, outcome: str) -> dict[str, Any]:
    """Store the outcome with the time it took to answer, and carry out an accept."""
    proposal = entry.proposal
    answer_s = round(max(0.0, time.time() - entry.shown_at), 3)
    if outcome == "accepted" and proposal.operation == "edit":
        return await accept_edit(ls, entry, answer_s)
    await record(ls, entry, outcome, answer_s)
    result: dict[str, Any] = {"proposal_id": proposal.id, "outcome": outcome, "answer_s": answer_s}
    if outcome == "accepted":
        result["effect"] = await carry_out(ls, proposal)
    return result


async def record(ls: "CompanionLanguageServer", entry: Entry, outcome: str, answer_s: float,
                 **fields: Any) -> dict[str, Any]:
    """The outcome in the daemon's store; the proposal leaves this editor once it is recorded."""
    proposal = entry.proposal
    try:
        reply = await ls.request("outcome", proposal_id=proposal.id, outcome=outcome, answer_s=answer_s, via=ls.via,
                                 **fields)
    except IpcRefused as exc:
        if exc.code != "already_answered":
            raise AnswerError(f"Companion could not record your answer: {exc}") from None
        _forget(ls, entry)  # open nowhere any more; the daemon's "answered" message may not be here yet
        ls.send_status()
        raise AnsweredElsewhere(proposal.task or "the proposal", str(exc.reply.get("status") or "answered")) from None
    except IpcError as exc:
        raise AnswerError(f"Companion could not record your answer: {exc}") from None
    _forget(ls, entry)
    ls.notify_proposal(type(proposal).from_dict(reply["proposal"]), "answered")
    ls.send_status()
    return reply


def _forget(ls: "CompanionLanguageServer", entry: Entry) -> None:
    """The proposal leaves this editor (its diagnostic and code actions)."""
    ls.book.remove(entry.proposal.id)
    ls.refresh({entry.proposal.path} if entry.proposal.path else set())


async def accept_edit(ls: "CompanionLanguageServer", entry: Entry, answer_s: float) -> dict[str, Any]:
    """Apply the patch in the editor, then record the accept; refuse both with the reason."""
    proposal = entry.proposal
    task = proposal.task or "the proposal"
    try:
        path = proposal.path or patching.parse(proposal.response).path
        if not path:
            raise patching.PatchError("the patch does not name a file")
        text = ls.document_text(path)
        if text is None:
            raise patching.PatchError(f"{path} cannot be read")
        edits = text_edits(text, proposal.response)
    except patching.PatchError as exc:
        raise AnswerError(f"Companion did not accept “{task}”: the patch no longer applies: {exc}. "
                          "The proposal stays open.") from None
    params = types.ApplyWorkspaceEditParams(label=f"Companion: {task}",
                                            edit=types.WorkspaceEdit(changes={ls.uri_of(path): edits}))
    applied = await ls.workspace_apply_edit_async(params)
    if not applied.applied:
        raise AnswerError(f"Companion did not accept “{task}”: the editor did not apply the patch "
                          f"({applied.failure_reason or 'refused'}). The proposal stays open.")
    try:
        await record(ls, entry, "accepted", answer_s, applied_by="client")
    except AnsweredElsewhere as exc:
        # the edit is in the buffer, but the answer that counts is the other client's
        if exc.status == "accepted":
            then = ("which applied the patch as well (to the file on disk, or in that editor): if the change is "
                    "now there twice, undo takes this editor's copy back")
        else:
            then = "which did not want it: undo takes the patch back, or keep it"
        raise AnswerError(f"Companion applied the patch to {path} in your editor, but “{task}” had already been "
                          f"{exc.status} from another client, {then}. Your accept was not recorded.") from None
    except AnswerError as exc:
        raise AnswerError(f"The patch is in your editor (undo takes it back), but {exc}") from None
    message = f"Companion applied the patch to {path} (not saved yet; undo takes it back)."
    ls.show(types.MessageType.Info, message)
    return {"proposal_id": proposal.id, "outcome": "accepted", "answer_s": answer_s, "effect": "applied",
            "path": path, "message": message}


def text_edits(text: str, diff: str) -> list[types.TextEdit]:
    """The diff's hunks, located in `text` by the patch engine, as LSP text edits (positions in
    UTF-16 code units); applied together they give exactly `patching.apply_to_text(text, diff)`."""
    lines, breaks = patching.split_lines(text)
    newline = patching.newline_of(breaks)
    ends = not text or bool(breaks[-1])  # the text ends with a line break (or is empty)
    edits: list[types.TextEdit] = []
    for change in patching.locate(text, patching.parse(diff)):
        new_text = "".join(line + newline for line in change.new)
        start = types.Position(line=change.first, character=0)
        if change.last < len(lines) or ends:
            end = types.Position(line=change.last, character=0)
        else:  # the change reaches the last line, which has no line break: keep it without one
            end = types.Position(line=len(lines) - 1, character=_utf16_len(lines[-1]))
            new_text = new_text[:-len(newline)] if new_text else new_text
            if change.first == len(lines):  # an insertion after that last line
                start = end
                new_text = newline + new_text
            elif not new_text and change.first > 0:  # the last lines go: so does the break before them
                start = types.Position(line=change.first - 1, character=_utf16_len(lines[change.first - 1]))
        edits.append(types.TextEdit(range=types.Range(start=start, end=end), new_text=new_text))
    return edits


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def carry_out(ls: "CompanionLanguageServer", proposal: Any) -> str:
    operation = proposal.operation
    try:
        if operation == "open" and proposal.path:
            return await show_file(ls, proposal)
        if operation in ("explain", "run_command") or proposal.response:
            return await show_response(ls, proposal)
    except Exception as exc:  # the answer is stored; the editor gets a message, not a crash
        log.exception("carrying out proposal %s failed", proposal.id)
        ls.show(types.MessageType.Error, f"Companion could not carry out the proposal: {exc}")
        return "failed"
    return "none"


def _can_show_documents(ls: "CompanionLanguageServer") -> bool:
    window = ls.client_capabilities.window
    return bool(window and window.show_document and window.show_document.support)


async def show_file(ls: "CompanionLanguageServer", proposal: Any) -> str:
    line = max(0, (proposal.line or 1) - 1)
    if _can_show_documents(ls):
        position = types.Position(line=line, character=0)
        await ls.window_show_document_async(types.ShowDocumentParams(
            uri=ls.uri_of(proposal.path), take_focus=True, selection=types.Range(start=position, end=position)))
        return "shown"
    ls.show(types.MessageType.Info, f"Companion: open {proposal.path}:{line + 1}")
    return "message"


async def show_response(ls: "CompanionLanguageServer", proposal: Any) -> str:
    if _can_show_documents(ls):
        page = present.write_page(paths.cache_dir() / "proposals", proposal)
        await ls.window_show_document_async(types.ShowDocumentParams(uri=page.as_uri(), take_focus=True))
        return "shown"
    kind = present.RESPONSE_KIND.get(proposal.operation or "", "Answer")
    ls.show(types.MessageType.Info, f"Companion — {proposal.task}\n{kind}: {present.clip(proposal.response)}")
    return "message"


async def ask(ls: "CompanionLanguageServer", entry: Entry) -> None:
    """window/showMessageRequest with Accept / Reject / Snooze; a dismissed message answers nothing."""
    try:
        choice = await ls.window_show_message_request_async(present.message_request(entry.proposal))
    except Exception as exc:
        log.info("the editor did not show the message for %s: %s", entry.proposal.id, exc)
        return
    if choice is None or entry.proposal.id not in ls.book:
        return
    outcome = OUTCOME_OF.get(choice.title)
    if outcome is None:
        return
    try:
        await answer(ls, entry, outcome)
    except AnswerError as exc:  # no command reply carries it: the message is what the user sees
        log.warning("%s", exc)
        ls.show(types.MessageType.Error, str(exc))
