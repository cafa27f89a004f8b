"""The proposals this editor shows: an in-memory index kept in step with the daemon.

The daemon is the truth; the book is the editor's view of it, indexed by file so that a code
action request (which arrives on every cursor move in some editors) is answered from memory
in microseconds. It also remembers when each proposal was first shown here, so an answer
carries the time the user took to give it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from companion.proposals import Proposal


@dataclass
class Entry:
    proposal: Proposal
    shown_at: float = field(default_factory=time.time)
    asked: bool = False  # a message request was already sent for it


class ProposalBook:
    """Open, surfaced proposals by id and by file path (relative to the workspace)."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}
        self._by_path: dict[str | None, set[str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, proposal_id: object) -> bool:
        return proposal_id in self._entries

    def add(self, proposal: Proposal) -> Entry:
        """Add or refresh a proposal; a refreshed one keeps the time it was first shown."""
        old = self._entries.get(proposal.id)
        if old is not None:
            self._unindex(old.proposal)
            old.proposal = proposal
            entry = old
        else:
            entry = Entry(proposal)
            self._entries[proposal.id] = entry
        self._by_path.setdefault(proposal.path or None, set()).add(proposal.id)
        return entry

    def remove(self, proposal_id: str) -> Entry | None:
        entry = self._entries.pop(proposal_id, None)
        if entry is not None:
            self._unindex(entry.proposal)
        return entry

    def _unindex(self, proposal: Proposal) -> None:
        ids = self._by_path.get(proposal.path or None)
        if ids is not None:
            ids.discard(proposal.id)
            if not ids:
                del self._by_path[proposal.path or None]

    def clear(self) -> None:
        self._entries.clear()
        self._by_path.clear()

    def get(self, proposal_id: str) -> Entry | None:
        entry = self._entries.get(proposal_id)
        if entry is None:  # a unique prefix is enough, as on the command line
            matches = [e for key, e in self._entries.items() if key.startswith(proposal_id)]
            entry = matches[0] if len(matches) == 1 else None
        return entry

    def entries(self) -> list[Entry]:
        """Newest first."""
        return sorted(self._entries.values(), key=lambda e: e.proposal.ts, reverse=True)

    def paths(self) -> set[str]:
        return {p for p in self._by_path if p}

    def for_path(self, path: str) -> list[Entry]:
        return [self._entries[i] for i in sorted(self._by_path.get(path, ()))]

    def at(self, path: str, first_line: int, last_line: int) -> list[Entry]:
        """Proposals of `path` whose lines meet the 0-based line range [first_line, last_line]."""
        found = []
        for entry in self.for_path(path):
            start, end = line_span(entry.proposal)
            if start <= last_line and first_line <= end:
                found.append(entry)
        return sorted(found, key=lambda e: e.proposal.ts, reverse=True)


def line_span(proposal: Proposal) -> tuple[int, int]:
    """The 0-based first and last line a proposal concerns (line 1 when it names none)."""
    start = max(0, (proposal.line or 1) - 1)
    end = max(start, (proposal.end_line or proposal.line or 1) - 1)
    return start, end


def visible(proposal: Proposal, interruption_level: int | None,
            thresholds: dict[int, float] | None = None) -> bool:
    """Whether this editor shows a proposal: surfaced by the gate, still open, and, when the
    editor sets its own interruption level, scored above that level's threshold in the table of
    the daemon's gate (`thresholds`, from its status). The editor has no table of its own: with
    none from the daemon, the gate's `surfaced` decides alone."""
    if not proposal.surfaced or proposal.status != "open" or not proposal.task:
        return False
    if interruption_level is None or proposal.score is None or not thresholds or interruption_level not in thresholds:
        return True
    return proposal.score >= thresholds[interruption_level]
