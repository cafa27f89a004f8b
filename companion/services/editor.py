"""Socket operations the editors need beside the core ones.

- `configure`: an editor's settings that belong to the daemon (interruption level, agent
  backend and model) change the daemon's config in memory, checked like a config file; the
  engine reads `daemon.config` when it decides, and clients hear of it on topic "config".
  Nothing is written to disk: the editor sends its settings again whenever it connects.
- `proposal_events`: the rendered events a proposal was made from (the "why" in the editor).
"""

from __future__ import annotations

import copy
from typing import Any

from companion.config import _apply, validate
from companion.daemon import Daemon, event_payload
from companion.ipc import Connection

DAEMON_SETTINGS = {"general": {"interruption_level"}, "agent": {"backend", "model"}}


class EditorService:
    name = "editor"

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def start(self) -> None:
        self.daemon.add_handler("configure", self.configure)
        self.daemon.add_handler("proposal_events", self.proposal_events)

    def stop(self) -> None:
        """Nothing to release: the service holds no thread, and its operations go with the socket."""

    def configure(self, request: dict[str, Any], _conn: Connection) -> dict[str, Any]:
        settings = request.get("settings")
        if not isinstance(settings, dict):
            raise ValueError("configure takes settings: {section: {key: value}}")
        for section, values in settings.items():
            allowed = DAEMON_SETTINGS.get(section, set())
            if not isinstance(values, dict) or not set(values) <= allowed:
                raise ValueError(f"configure may change only {sorted((s, sorted(k)) for s, k in DAEMON_SETTINGS.items())}")
        probe = copy.deepcopy(self.daemon.config)
        _apply(probe, settings, "editor settings")
        validate(probe)
        _apply(self.daemon.config, settings, "editor settings")
        changed = {section: {key: getattr(getattr(self.daemon.config, section), key) for key in values}
                   for section, values in settings.items()}
        self.daemon.publish("config", {"config": changed})
        return {"config": changed}

    def proposal_events(self, request: dict[str, Any], _conn: Connection) -> dict[str, Any]:
        proposal = self.daemon.store.proposal(str(request.get("proposal_id", "")))
        if proposal is None:
            raise ValueError(f"no proposal with id {request.get('proposal_id')!r}")
        events = self.daemon.store.events(ids=proposal.event_ids) if proposal.event_ids else []
        return {"proposal_id": proposal.id, "events": [event_payload(e) for e in events]}


def create(daemon: Daemon) -> EditorService:
    return EditorService(daemon)
