"""Socket operations the editors need beside the core ones.

(An editor's `configure` is a live setting: companion/services/settings.py.)

- `proposal_events`: the rendered events a proposal was made from (the "why" in the editor).
"""

from __future__ import annotations

from typing import Any

from companion.daemon import Daemon, event_payload
from companion.ipc import Connection


class EditorService:
    name = "editor"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def start(self) -> None:
        self.daemon.add_handler("proposal_events", self.proposal_events)

    def stop(self) -> None:
        """Nothing to release: the service holds no thread, and its operations go with the socket."""

    def proposal_events(self, request: dict[str, Any], _conn: Connection) -> dict[str, Any]:
        proposal = self.daemon.store.proposal(str(request.get("proposal_id", "")))
        if proposal is None:
            raise ValueError(f"no proposal with id {request.get('proposal_id')!r}")
        events = self.daemon.store.events(ids=proposal.event_ids) if proposal.event_ids else []
        return {"proposal_id": proposal.id, "events": [event_payload(e) for e in events]}


def create(daemon: Daemon) -> EditorService:
    return EditorService(daemon)
