"""The live event timeline: filterable by source and text, pausable, bounded, cheap at any rate.

It is a line-API scroll view rather than a RichLog: an event is word-wrapped once (plain string
work, microseconds) when it arrives, and only the rows on screen are turned into styled strips
when Textual paints. Writing to a RichLog costs ~1.5 ms an event (a full Rich render each), which
freezes the UI for seconds at 1,000 events a second; this costs a few milliseconds a thousand.
It keeps the last `max_entries` payloads (a filter change redraws from them) and `max_rows`
wrapped rows.
"""

from __future__ import annotations

import collections
from typing import Any, Iterable

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from companion.tui.format import SOURCE_STYLES, clock

PREFIX = 11  # "HH:MM:SS ◆ "
Row = tuple[str | None, str, str]  # (time on an event's first row, else None; source; text)


def wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap to `width` cells; long words are split. Plain strings, no Rich rendering."""
    width = max(4, width)
    text = " ".join(text.split())
    measure = len if text.isascii() else cell_len
    if measure(text) <= width:
        return [text]
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        while measure(word) > width:
            if line:
                lines.append(line)
                line = ""
            cut = width
            while cut > 1 and measure(word[:cut]) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        if not line:
            line = word
        elif measure(line) + 1 + measure(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines or [""]


class Timeline(ScrollView, can_focus=True):
    """Rendered events, newest at the bottom; follows new events unless scrolled up or paused."""

    def __init__(self, max_entries: int = 2000, max_rows: int = 4000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entries: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_entries)
        self.max_rows = max_rows
        self.rows: list[Row] = []
        self.sources: set[str] = set(SOURCE_STYLES)
        self.text_filter = ""
        self.paused = False
        self.held = 0  # events that arrived while paused, not yet shown
        self.shown = 0  # events drawn since start (the benchmark and tests read it)
        self._wrapped_at = 0

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
        if not visible:
            return
        following = self.is_vertical_scroll_end or not self.rows
        self.rows.extend(self._rows_of(visible[-self.max_rows:]))
        self.shown += len(visible)
        excess = len(self.rows) - self.max_rows
        if excess > 0:
            del self.rows[:excess]
        self._resize_virtual()
        if following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif excess > 0:
            self.scroll_to(y=max(0, self.scroll_y - excess), animate=False, immediate=True)
        self.refresh()

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
        visible = [p for p in self.entries if self.matches(p)]
        self.rows = self._rows_of(visible)[-self.max_rows:]
        self._resize_virtual()
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self._update_title()
        self.refresh()

    def describe_filter(self) -> str:
        sources = "all sources" if self.sources == set(SOURCE_STYLES) else ", ".join(
            s for s in SOURCE_STYLES if s in self.sources)
        parts = [sources]
        if self.text_filter:
            parts.append(f"/{self.text_filter}")
        if self.paused:
            parts.append(f"PAUSED ({self.held} new)")
        return " · ".join(parts)

    def visible_text(self) -> str:
        """Every row the timeline holds, as plain text (for tests and debugging)."""
        return "\n".join((f"{stamp} " if stamp else "") + text for stamp, _source, text in self.rows)

    # -- layout and painting ---------------------------------------------------------------
    def _text_width(self) -> int:
        width = self.scrollable_content_region.width or self.size.width
        return max(10, (width or 80) - PREFIX)

    def _rows_of(self, payloads: Iterable[dict[str, Any]]) -> list[Row]:
        width = self._text_width()
        self._wrapped_at = width
        rows: list[Row] = []
        for payload in payloads:
            try:
                stamp = clock(float(payload.get("ts", 0)))
            except (TypeError, ValueError):
                stamp = "--:--:--"
            source = str(payload.get("source", ""))
            text = str(payload.get("text") or payload.get("kind") or "?")
            for i, part in enumerate(wrap(text, width)):
                rows.append((stamp if i == 0 else None, source, part))
        return rows

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(self._text_width() + PREFIX, len(self.rows))

    def on_resize(self) -> None:
        if self._text_width() != self._wrapped_at:
            following = self.is_vertical_scroll_end
            self.rows = self._rows_of([p for p in self.entries if self.matches(p)])[-self.max_rows:]
            self._resize_virtual()
            if following:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
        self._update_title()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self.rows):
            return Strip.blank(width, base)
        stamp, source, text = self.rows[index]
        icon, colour = SOURCE_STYLES.get(source, ("·", "white"))
        text_style = base + Style(color="blue") if source == "companion" else base
        if stamp is not None:
            segments = [Segment(stamp, base + Style(dim=True)), Segment(" ", base),
                        Segment(icon, base + Style(color=colour, bold=True)), Segment(" ", base),
                        Segment(text, text_style)]
        else:
            segments = [Segment(" " * PREFIX, base), Segment(text, text_style)]
        return Strip(segments).crop_extend(scroll_x, scroll_x + width, base)

    def _update_title(self) -> None:
        self.border_title = f"Events · {self.describe_filter()}"
