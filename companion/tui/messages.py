"""Messages that carry daemon news from socket and worker threads to the UI thread.

Threads never touch widgets: they post one of these to the app (`post_message` is thread-safe),
and the handlers, which run on the UI thread, update the screens. They are dataclasses (Textual's
Message initialises itself in `__post_init__`), as posting's are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class DaemonConnected(Message):
    """Attached (again) to the daemon; carries a fresh snapshot to rebuild the views from."""

    status: dict[str, Any]
    events: list[dict[str, Any]]
    proposals: list[dict[str, Any]]


@dataclass
class DaemonDown(Message):
    """The daemon cannot be reached; the link retries after `retry_in` seconds."""

    reason: str
    retry_in: float


@dataclass
class EventsArrived(Message):
    """New events wait in the link's buffer. The link posts one per event and carries no data in it.

    Redraws coalesce the Textual way: the message pump replaces a queued EventsArrived with the
    one behind it (`can_replace`), since the drained batch holds every event anyway; so the UI
    handles one message per batch however fast events come, and the link keeps no flag of its own.
    """

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsArrived)


@dataclass
class ProposalChanged(Message):
    proposal: dict[str, Any]
    change: str


@dataclass
class StatusUpdated(Message):
    """A `status` reply, with the health of the agent's model backend."""

    status: dict[str, Any]
    backend_ok: bool | None
    backend_detail: str


@dataclass
class SettingsChanged(Message):
    """The daemon took on new settings (topic "config"): their values, and what waits for a restart."""

    config: dict[str, dict[str, Any]]
    restart_needed: list[str] = field(default_factory=list)


@dataclass
class WhyLoaded(Message):
    """The events that led to a proposal (its event_ids), read through the daemon."""

    proposal_id: str
    events: list[dict[str, Any]]
