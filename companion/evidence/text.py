"""Bytes to text for diffing: one rule for the file watcher and the evidence snapshots.

Binary content (a NUL byte, or mostly undecodable bytes) has no text; text with a few invalid
UTF-8 bytes is decoded with replacement characters rather than refused.
"""

from __future__ import annotations


def decode(raw: bytes) -> tuple[str | None, bool]:
    """(text, had_invalid_bytes); text is None for binary content."""
    if b"\0" in raw[:8192]:
        return None, False
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        if bad > max(8, len(text) // 20):  # mostly undecodable: some binary format without NULs
            return None, False
        return text, True
