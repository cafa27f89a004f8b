"""Human durations ("30m", "2h", "7d", "1h30m") for `--since`, `pause` and config values."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as '90s', '30m', '1h30m' or '7d'; a bare number is seconds."""
    cleaned = text.strip().lower()
    if not cleaned:
        raise ValueError("empty duration; use e.g. 30s, 15m, 2h, 7d")
    try:
        return float(cleaned)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _PART.finditer(cleaned):
        if cleaned[pos:match.start()].strip():
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or cleaned[pos:].strip():
        raise ValueError(f"cannot read duration {text!r}; use e.g. 30s, 15m, 2h, 7d, 1h30m")
    return total


def format_duration(seconds: float) -> str:
    """A short human form for sentences: 0.4 s, 12 s, 5 min, 3 h, 2 d (the dashboard's narrow
    age column uses companion.tui.format.age instead: 5s, 3m)."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"
