"""The proposal inbox: open, surfaced proposals, newest first, with gate score and age."""

from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from companion.tui.format import age, score_text

OPERATION_MARKS = {"explain": "?", "run_command": "$", "edit": "±", "open": "↗"}


class ProposalInbox(DataTable):
    """Rows keyed by proposal id; `proposals` holds the payloads in display order."""

    def __init__(self, now: Callable[[], float], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, show_cursor=True, **kwargs)
        self.now = now
        self.proposals: dict[str, dict[str, Any]] = {}

    def on_mount(self) -> None:
        self.add_column("", key="op", width=1)
        self.add_column("task", key="task", width=24)
        self.add_column("score", key="score", width=5)
        self.add_column("age", key="age", width=4)

    def on_resize(self) -> None:
        """Give the task column whatever the fixed columns leave, so nothing scrolls sideways."""
        column = self.columns.get(ColumnKey("task"))
        if column is not None:
            column.auto_width = False
            column.width = max(8, self.size.width - 1 - 5 - 4 - 2 * 4 * self.cell_padding - 1)
            self._require_update_dimensions = True
            self.refresh()

    def selected(self) -> dict[str, Any] | None:
        if not self.proposals or self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # no row under the cursor (an empty table)
            return None
        return self.proposals.get(str(key))

    def replace(self, proposals: list[dict[str, Any]]) -> None:
        self.proposals = {}
        self.clear()
        for proposal in sorted(proposals, key=lambda p: float(p.get("ts", 0))):
            self.upsert(proposal)
        if self.row_count:
            self.move_cursor(row=0)

    def upsert(self, proposal: dict[str, Any]) -> None:
        """Add a new open proposal at the top, or drop one that got an answer."""
        proposal_id = str(proposal.get("id"))
        if proposal.get("status", "open") != "open" or not proposal.get("surfaced", False):
            self.remove(proposal_id)
            return
        if proposal_id in self.proposals:
            self.proposals[proposal_id] = proposal
            self.update_cell(proposal_id, "task", self._task_cell(proposal))
            return
        selected = self.selected()
        self.proposals = {proposal_id: proposal, **self.proposals}
        self.clear()
        for key, item in self.proposals.items():
            self.add_row(*self._cells(item), key=key)
        if selected is not None and str(selected.get("id")) in self.proposals:
            self.move_cursor(row=self.get_row_index(str(selected["id"])))

    def remove(self, proposal_id: str) -> None:
        if proposal_id not in self.proposals:
            return
        del self.proposals[proposal_id]
        self.remove_row(proposal_id)

    def refresh_ages(self) -> None:
        now = self.now()
        for key, proposal in self.proposals.items():
            self.update_cell(key, "age", age(now - float(proposal.get("ts", now))))

    def _task_cell(self, proposal: dict[str, Any]) -> Text:
        return Text(str(proposal.get("task") or "(no task)"), overflow="ellipsis", no_wrap=True)

    def _cells(self, proposal: dict[str, Any]) -> tuple[Any, ...]:
        now = self.now()
        return (OPERATION_MARKS.get(str(proposal.get("operation")), "·"), self._task_cell(proposal),
                score_text(proposal.get("score")), age(now - float(proposal.get("ts", now))))
