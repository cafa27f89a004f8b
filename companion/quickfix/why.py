"""The "why" of a proposal in words: the evidence it rests on and the rule that fired.

One function for every surface (the gate's extra observation, the agent prompt, the TUI, the
language server's hover and diagnostics), so they all say the same thing.
"""

from __future__ import annotations

from typing import Any, Mapping


def _clip(text: Any, limit: int) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def why_lines(evidence: Mapping[str, Any] | None, rule: str | None = None, limit: int = 6) -> list[str]:
    """Short lines: the failure, the suspect change, the output lines, the rule."""
    evidence = evidence if isinstance(evidence, Mapping) else {}
    lines: list[str] = []
    failure = evidence.get("failure")
    if isinstance(failure, Mapping):
        where = f" ({failure.get('path')}:{failure.get('line')})" if failure.get("path") and failure.get("line") else ""
        lines.append(_clip(f"{failure.get('test') or 'a test'} failed: {failure.get('message') or ''}", 220) + where)
    suspect = evidence.get("suspect")
    if isinstance(suspect, Mapping):
        removed = "; ".join(str(r).strip() for r in (suspect.get("removed") or [])[:2])
        added = "; ".join(str(a).strip() for a in (suspect.get("added") or [])[:2])
        change = f": `{_clip(removed, 80)}` → `{_clip(added, 80)}`" if removed or added else ""
        since = "the last commit" if suspect.get("since") == "commit" else "the last passing run"
        lines.append(f"changed since {since}: {suspect.get('path')} line {suspect.get('line')}{change}")
    for line in evidence.get("output_lines") or []:
        if line:
            lines.append(_clip(f"output: {line}", 220))
    for key, label in (("conflicted_files", "conflicted files"), ("files", "files")):
        files = evidence.get(key)
        if isinstance(files, list) and files:
            lines.append(_clip(f"{label}: " + ", ".join(str(f) for f in files[:8]), 220))
            break
    for key in ("ours", "theirs"):
        if evidence.get(key):
            lines.append(_clip(f"{key}: " + "; ".join(str(c) for c in evidence[key]), 220))
    if evidence.get("explanation"):
        lines.append(_clip(evidence["explanation"], 300))
    if evidence.get("dropped"):
        lines.append(_clip(f"dropped: {evidence['dropped']}", 220))
    if evidence.get("grounded_on"):
        lines.append(_clip("names: " + ", ".join(str(t) for t in evidence["grounded_on"][:6]), 220))
    lines = lines[:limit]
    if rule:
        lines.append(f"rule: {rule}")
    return lines


def why_text(evidence: Mapping[str, Any] | None, rule: str | None = None) -> str:
    """The why in one paragraph ("" when there is nothing to say)."""
    return "; ".join(why_lines(evidence, rule))


def evidence_observation(evidence: Mapping[str, Any] | None, rule: str | None, ts: float,
                         fallback: str = "") -> dict[str, str]:
    """The why as one more observation, for the gate: at run time it judges a candidate on it, and the
    training rows of answered rule proposals carry the same line, so the gate learns which rules (and
    which evidence) this user welcomes."""
    from companion.gate.base import EVIDENCE_PREFIX
    from companion.render import observation_time

    return {"time": observation_time(ts), "event": f"{EVIDENCE_PREFIX}{why_text(evidence, rule) or fallback[:200]}"}
