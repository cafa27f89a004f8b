"""Messages that carry daemon news from socket and worker threads to the UI thread.

Threads never touch widgets: they post one of these to the app (`post_message` is thread-safe),
and the handlers, which run on the UI thread, update the screens.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class DaemonConnected(Message):
    """Attached (again) to the daemon; carries a fresh snapshot to rebuild the views from."""

    def __init__(self, status: dict[str, Any], events: list[dict[str, Any]], proposals: list[dict[str, Any]]) -> None:
        super().__init__()
        self.status = status
        self.events = events
        self.proposals = proposals


class DaemonDown(Message):
    """The daemon cannot be reached; the link retries after `retry_in` seconds."""

    def __init__(self, reason: str, retry_in: float) -> None:
        super().__init__()
        self.reason = reason
        self.retry_in = retry_in


class EventsArrived(Message):
    """New events wait in the link's buffer; one message per batch, however many events."""


class ProposalChanged(Message):
    def __init__(self, proposal: dict[str, Any], change: str) -> None:
        super().__init__()
        self.proposal = proposal
        self.change = change


class StatusUpdated(Message):
    """A periodic `status` reply, with the health of the agent's model backend."""

    def __init__(self, status: dict[str, Any], backend_ok: bool | None, backend_detail: str) -> None:
        super().__init__()
        self.status = status
        self.backend_ok = backend_ok
        self.backend_detail = backend_detail


class WhyLoaded(Message):
    """The events that led to a proposal (its event_ids), read from the store."""

    def __init__(self, proposal_id: str, events: list[dict[str, Any]]) -> None:
        super().__init__()
        self.proposal_id = proposal_id
        self.events = events
