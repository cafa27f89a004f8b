"""Answering a proposal from the editor: record the outcome, then do what an accept means.

The outcome is stored first (with the seconds since this editor showed the proposal), so the
user's answer is never lost to a patch that no longer applies; then an accepted `edit` is
applied by the editor as a WorkspaceEdit, an `explain` or `run_command` opens its response
(a markdown page, or a message where the editor cannot show documents), an `open` shows the
file at its line. Nothing is ever run: a command is only shown.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from companion import paths
from companion.ipc import IpcError
from lsp_server import present
from lsp_server.book import Entry
from lsp_server.patch import PatchError, text_edits

if TYPE_CHECKING:
    from lsp_server.server import CompanionLanguageServer

log = logging.getLogger("lsp_server")
OUTCOME_OF = {present.ACCEPT: "accepted", present.REJECT: "rejected", present.SNOOZE: "snoozed"}


class AnswerError(RuntimeError):
    """The answer could not be given (no such proposal, or no daemon to record it)."""


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
    """Store the outcome with the time it took to answer, then carry out an accept."""
    proposal = entry.proposal
    answer_s = round(max(0.0, time.time() - entry.shown_at), 3)
    try:
        reply = await ls.request("outcome", proposal_id=proposal.id, outcome=outcome, answer_s=answer_s, via=ls.via)
    except IpcError as exc:
        ls.show(types.MessageType.Error, f"Companion could not record your answer: {exc}")
        raise AnswerError(f"the answer was not recorded: {exc}") from None
    ls.book.remove(proposal.id)
    ls.refresh({proposal.path} if proposal.path else set())
    ls.notify_proposal(type(proposal).from_dict(reply["proposal"]), "answered")
    ls.send_status()
    result: dict[str, Any] = {"proposal_id": proposal.id, "outcome": outcome, "answer_s": answer_s}
    if outcome == "accepted":
        result["effect"] = await carry_out(ls, proposal)
    return result


async def carry_out(ls: "CompanionLanguageServer", proposal: Any) -> str:
    operation = proposal.operation
    try:
        if operation == "edit" and proposal.path:
            return await apply_patch(ls, proposal)
        if operation == "open" and proposal.path:
            return await show_file(ls, proposal)
        if operation in ("explain", "run_command", "edit") or proposal.response:
            return await show_response(ls, proposal)
    except Exception as exc:  # the answer is stored; the editor gets a message, not a crash
        log.exception("carrying out proposal %s failed", proposal.id)
        ls.show(types.MessageType.Error, f"Companion could not carry out the proposal: {exc}")
        return "failed"
    return "none"


async def apply_patch(ls: "CompanionLanguageServer", proposal: Any) -> str:
    text = ls.document_text(proposal.path)
    if text is None:
        ls.show(types.MessageType.Error, f"Companion cannot read {proposal.path} to apply the patch.")
        return "failed"
    try:
        edits = text_edits(text, proposal.response)
    except PatchError as exc:
        ls.show(types.MessageType.Error, f"Companion's patch for {proposal.path} no longer applies: {exc}")
        return "failed"
    params = types.ApplyWorkspaceEditParams(label=f"Companion: {proposal.task}",
                                            edit=types.WorkspaceEdit(changes={ls.uri_of(proposal.path): edits}))
    result = await ls.workspace_apply_edit_async(params)
    if not result.applied:
        ls.show(types.MessageType.Error, f"The editor did not apply companion's patch: {result.failure_reason or 'refused'}")
        return "failed"
    return "applied"


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
    except AnswerError as exc:
        log.warning("%s", exc)
