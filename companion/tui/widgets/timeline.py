"""The live event timeline: filterable by source and text, pausable, bounded in length.

It keeps the last `max_entries` event payloads itself (so a filter change can redraw from them)
and shows at most `max_lines` of them. A batch larger than the visible window only writes its
tail: at 1,000 events a second nobody reads the ones that scroll past, and writing them would
stall the UI.
"""

from __future__ import annotations

import collections
from typing import Any, Iterable

from textual.widgets import RichLog

from companion.tui.format import SOURCE_STYLES, event_line


class Timeline(RichLog):
    """A RichLog of rendered events with filters and a pause switch."""

    def __init__(self, max_entries: int = 2000, max_lines: int = 500, **kwargs: Any) -> None:
        super().__init__(max_lines=max_lines, wrap=True, markup=False, highlight=False, auto_scroll=True,
                         min_width=20, **kwargs)
        self.entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_entries)
        self.sources: set[str] = set(SOURCE_STYLES)
        self.text_filter = ""
        self.paused = False
        self.held = 0  # events that arrived while paused, not yet shown
        self.shown = 0  # events written since start (for the benchmark and tests)

    # -- data in --------------------------------------------------------------------------
    def replace(self, payloads: Iterable[dict[str, Any]]) -> None:
        """Start afresh from a snapshot (on (re)connection)."""
        self.entries.clear()
        self.entries.extend(payloads)
        self.held = 0
        self.redraw()

    def add(self, payloads: list[dict[str, Any]]) -> None:
        self.entries.extend(payloads)
        if self.paused:
            self.held += len(payloads)
            self._update_title()
            return
        visible = [p for p in payloads if self.matches(p)]
        for payload in visible[-self.max_lines:] if self.max_lines else visible:
            self.write(event_line(payload), scroll_end=True)
            self.shown += 1

    # -- filters and pause -----------------------------------------------------------------
    def matches(self, payload: dict[str, Any]) -> bool:
        if payload.get("source") not in self.sources and payload.get("source") in SOURCE_STYLES:
            return False
        if self.text_filter:
            haystack = f"{payload.get('text', '')} {payload.get('kind', '')}".lower()
            return self.text_filter.lower() in haystack
        return True

    def toggle_source(self, source: str) -> None:
        if self.sources == set(SOURCE_STYLES):
            self.sources = {source}  # from "all", the first key shows only that source
        elif source in self.sources:
            self.sources.discard(source)
            if not self.sources:
                self.sources = set(SOURCE_STYLES)
        else:
            self.sources.add(source)
        self.redraw()

    def show_all_sources(self) -> None:
        self.sources = set(SOURCE_STYLES)
        self.redraw()

    def set_text_filter(self, text: str) -> None:
        self.text_filter = text.strip()
        self.redraw()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            self.held = 0
            self.redraw()
        self._update_title()

    def redraw(self) -> None:
        self.clear()
        visible = [p for p in self.entries if self.matches(p)]
        for payload in visible[-self.max_lines:] if self.max_lines else visible:
            self.write(event_line(payload), scroll_end=True)
        self._update_title()

    def describe_filter(self) -> str:
        sources = "all sources" if self.sources == set(SOURCE_STYLES) else ", ".join(
            s for s in SOURCE_STYLES if s in self.sources)
        parts = [sources]
        if self.text_filter:
            parts.append(f"/{self.text_filter}")
        if self.paused:
            parts.append(f"PAUSED ({self.held} new)")
        return " · ".join(parts)

    def _update_title(self) -> None:
        self.border_title = f"Events · {self.describe_filter()}"
