"""Recording a user's answer to a proposal: the daemon's `outcome` operation, and the one owner of
accepting an edit.

Accepting an `edit` is one explicit step, whoever answers:
- the CLI and the TUI ask the daemon to apply it: the patch is applied here and the accept
  recorded under one lock, so the user sees both or neither (a recording that fails puts the
  file back);
- an editor applies the patch itself, through a WorkspaceEdit, so the change lands in its undo
  history, then says so with `applied_by: "client"`; the daemon only records it.
A patch that no longer applies is refused with the reason and nothing is recorded: the proposal
stays open. This lives in the daemon's core, not in the engine, so a `--no-engine` daemon applies
an accepted edit the same way.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from companion import patching
from companion.proposals import Outcome
from companion.store import Store

# a proposal can still be answered while it waits (open), was kept back by the gate (silent),
# snoozed, or expired unanswered (ignored: the user had not answered yet)
ANSWERABLE = ("open", "silent", "snoozed", "ignored")
APPLIERS = ("daemon", "client")


class AlreadyAnswered(ValueError):
    """The proposal was answered before (by another client, usually): nothing changed. The error
    reply says so with `code` "already_answered" and the proposal's `status`."""

    def __init__(self, proposal: Any) -> None:
        super().__init__(f"proposal {proposal.id} was already {proposal.status}; nothing changed")
        self.reply_fields = {"code": "already_answered", "status": proposal.status}


class OutcomeRecorder:
    """The `outcome` operation: {"proposal_id", "outcome", "answer_s", "via", "applied_by"}.

    `applied_by` matters for an accepted `edit` only: "daemon" (the default) applies the patch
    here; "client" means the editor has applied it. The reply holds the answered proposal, and
    for an accepted edit `applied` (the file, relative to the workspace) and `applied_by`."""

    def __init__(self, store: Store, workspace: Path, publish: Callable[[str, dict[str, Any]], None]) -> None:
        self.store = store
        self.workspace = workspace
        self.publish = publish
        self._lock = threading.Lock()  # two clients accepting at once apply the patch once

    def __call__(self, request: dict[str, Any], _connection: Any = None) -> dict[str, Any]:
        outcome = Outcome(proposal_id=str(request["proposal_id"]), outcome=str(request["outcome"]),
                          answer_s=request.get("answer_s"), via=str(request.get("via", "")))
        applied_by = str(request.get("applied_by") or "daemon")
        if applied_by not in APPLIERS:
            raise ValueError(f"applied_by must be one of {APPLIERS}, got {applied_by!r}")
        with self._lock:
            proposal = self.store.proposal(outcome.proposal_id)
            if proposal is None:
                raise ValueError(f"no proposal with id {outcome.proposal_id!r}")
            if proposal.status not in ANSWERABLE:
                raise AlreadyAnswered(proposal)
            is_edit = outcome.outcome == "accepted" and proposal.operation == "edit"
            edit = None
            if is_edit and applied_by == "daemon":
                try:
                    edit = patching.apply(self.workspace, proposal.response, proposal.path)
                except patching.PatchError as exc:
                    where = f" to {proposal.path}" if proposal.path else ""
                    raise ValueError(f"not accepted: the patch no longer applies{where}: {exc}. "
                                     "The proposal stays open: reject it, or change the file yourself") from None
            try:
                answered = self.store.record_outcome(outcome)
            except BaseException:
                if edit is not None:
                    patching.undo(edit)
                raise
        self.publish("proposal", {"proposal": answered.to_dict(), "change": "answered"})
        reply: dict[str, Any] = {"proposal": answered.to_dict()}
        if is_edit:
            reply["applied"] = edit.path if edit is not None else proposal.path
            reply["applied_by"] = applied_by
        return reply
