"""Check a parsed reply's operation against the workspace before it is offered.

- `edit`: the diff must apply cleanly to the named file now; otherwise it is downgraded to an
  `explain` (the text is kept, marked as not applicable) so a broken patch is never offered.
- `open`: the file must exist inside the workspace; the line is clamped to the file.
- `run_command`: reduced to the command itself (no fences, no prompt sign). It is shown, never run.
- `explain`: needs a response; an empty one falls back to the task text.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from companion.agent.parse import AgentReply
from companion.patching import PatchError, check, target_of

_FENCED = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)(?:```|$)", re.DOTALL)


def clean_command(text: str) -> str:
    """The command in a reply: the first non-empty line of a fenced block or of the text, without `$ `."""
    fenced = _FENCED.findall(text)
    body = fenced[0] if fenced else text
    for line in body.splitlines():
        line = line.strip().strip("`").strip()
        if line.startswith("$ "):
            line = line[2:].strip()
        if line:
            return line
    return ""


def validate_reply(reply: AgentReply, workspace: Path | None) -> AgentReply:
    """The reply as it may be offered (possibly downgraded), or with task None if nothing is left."""
    if not reply.is_task:
        return reply
    operation = reply.operation or "explain"
    if operation == "run_command":
        command = clean_command(reply.response)
        if not command:
            return replace(reply, operation="explain", response=reply.response or reply.task or "",
                           problem="run_command without a command")
        return replace(reply, operation="run_command", response=command)
    if operation == "edit":
        if workspace is None:
            return replace(reply, operation="explain", problem="edit without a workspace to check it against")
        try:
            relative = check(workspace, reply.response, reply.path).path
        except PatchError as exc:
            text = reply.response.strip()
            note = f"(A change was suggested but it does not apply to the file as it is now: {exc}.)"
            return replace(reply, operation="explain", response=f"{note}\n{text}" if text else note,
                           problem=f"edit dropped: {exc}")
        return replace(reply, operation="edit", path=relative)
    if operation == "open":
        if not reply.path or workspace is None:
            return replace(reply, operation="explain", response=reply.response or reply.task or "",
                           problem="open without a file")
        try:
            relative, target = target_of(workspace, "", reply.path)
            if not target.is_file():
                raise PatchError(f"{reply.path} does not exist")
            count = max(1, sum(1 for _ in target.open("rb")))
        except (PatchError, OSError) as exc:
            return replace(reply, operation="explain", response=reply.response or reply.task or "",
                           path=None, line=None, problem=f"open dropped: {exc}")
        line = min(reply.line or 1, count)
        return replace(reply, operation="open", path=relative, line=line)
    return replace(reply, operation="explain", response=reply.response or reply.task or "")
