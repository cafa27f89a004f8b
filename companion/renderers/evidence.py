"""The evidence of a failure in words, for the shell and tests sentences (no renderers of its own).

Reads the contract's `data["evidence"]` (docs/evidence.md); every key is optional. Two parts:
what failed (the first failure's test id, message and file:line; else the error line of the
output tail) and what changed since the last green run (the first suspect hunk, as
`old` → `new`, and how many more).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from companion.render import code, plural

_ERROR_LINE = re.compile(r"(?:^|\s)(?:[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b|error\b|fatal\b|FAILED\b|"
                         r"Traceback\b|panic\b|E\s{2,})", re.IGNORECASE)
SNIPPET = 80


def evidence_of(data: Mapping[str, Any]) -> Mapping[str, Any]:
    evidence = data.get("evidence")
    return evidence if isinstance(evidence, Mapping) else {}


def _snippet(text: Any) -> str:
    return code(str(text).strip(), SNIPPET)


def _location(item: Mapping[str, Any]) -> str:
    path, line = item.get("path"), item.get("line")
    if not path:
        return ""
    return f" ({path}:{line})" if isinstance(line, int) else f" ({path})"


def failure_clause(evidence: Mapping[str, Any], named: tuple[str, ...] = ()) -> str:
    """': `test` — message (path:line)', or the output's error line, or ''. A test the sentence
    already names (`named`) is not named again."""
    failures = [f for f in evidence.get("failures") or [] if isinstance(f, Mapping)]
    if failures:
        first = failures[0]
        name = code(first["test"], 100) if first.get("test") and first.get("test") not in named else ""
        message = " ".join(str(first.get("message") or "").split())[:200]
        text = f"{name} — {message}" if name and message else name or message
        count = evidence.get("failure_count")
        total = count if isinstance(count, int) and count >= len(failures) else len(failures)
        more = f"; {plural(total - 1, 'other test')} failed too" if total > 1 else ""
        lead = " —" if first.get("test") in named else ":"  # "`test` — message" when the test was just named
        return f"{lead} {text}{_location(first)}{more}" if text else ""
    output = evidence.get("output")
    if isinstance(output, Mapping) and isinstance(output.get("tail"), str):
        lines = [line.strip() for line in output["tail"].splitlines() if line.strip()]
        errors = [line for line in lines if _ERROR_LINE.search(line)]
        chosen = (errors or lines or [""])[-1]
        if chosen:
            return f": {' '.join(chosen.split())[:200]}"
    return ""


def _change(hunk: Mapping[str, Any]) -> str:
    path, line = code(hunk.get("path", "?"), 80), hunk.get("line")
    removed = [r for r in hunk.get("removed") or [] if str(r).strip()]
    added = [a for a in hunk.get("added") or [] if str(a).strip()]
    where = f"{path} line {line}" if isinstance(line, int) else path
    if hunk.get("created"):
        return f"{path} was created" + (f": {_snippet(added[0])}" if added else "")
    if removed and added:
        more = "…" if len(removed) > 1 or len(added) > 1 else ""
        return f"{where} changed: {_snippet(removed[0])} → {_snippet(added[0])}{more}"
    if added:
        return f"{where} was added: {_snippet(added[0])}" + ("…" if len(added) > 1 else "")
    if removed:
        return f"{where} was removed: {_snippet(removed[0])}" + ("…" if len(removed) > 1 else "")
    return f"{where} changed"


def _prime_suspect(hunks: list[Mapping[str, Any]], evidence: Mapping[str, Any]) -> Mapping[str, Any]:
    """The hunk to name: in a file the failure mentions, then one that changed existing lines, then newest."""
    mentioned = " ".join(str(f.get(k) or "") for f in evidence.get("failures") or [] if isinstance(f, Mapping)
                         for k in ("path", "message", "traceback"))
    output = evidence.get("output")
    if isinstance(output, Mapping):
        mentioned += " " + str(output.get("tail") or "")[-4000:]

    def score(hunk: Mapping[str, Any]) -> int:
        return 2 * (str(hunk.get("path") or "?") in mentioned) + bool(hunk.get("removed"))

    return max(hunks, key=score)  # max keeps the first (newest) of equals


def changes_sentence(evidence: Mapping[str, Any]) -> str:
    """' Since the last passing run, `p` line 61 changed: `a` → `b`.' or '' without a green run."""
    green = evidence.get("green")
    if not isinstance(green, Mapping):
        return ""
    since = "Since it last succeeded" if green.get("kind") == "command" else "Since the last passing run"
    hunks = [h for h in evidence.get("suspects") or [] if isinstance(h, Mapping)]
    others = [f for f in evidence.get("changed_files") or [] if isinstance(f, Mapping)]
    if not hunks and not others:
        return f" Nothing in the workspace changed {since[0].lower()}{since[1:]}." if "suspects" in evidence else ""
    if hunks:
        best = _prime_suspect(hunks, evidence)
        files = {h.get("path") for h in hunks} | {f.get("path") for f in others}
        files.discard(best.get("path"))
        rest = len(hunks) - 1 + len(others)
        where = f", in {plural(len(files), 'other file')}" if files else " in the same file"
        more = f" (and {plural(rest, 'more change')}{where})" if rest else ""
        return f" {since}, {_change(best)}{more}."
    named = ", ".join(f"{code(f.get('path', '?'), 80)} ({f.get('note', 'changed')})" for f in others[:3])
    more = f" and {len(others) - 3} more" if len(others) > 3 else ""
    return f" {since}, these changed: {named}{more}."
