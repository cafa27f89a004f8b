"""How a proposal looks in an editor: a diagnostic on its lines, code actions to answer it, a
message with buttons, and a markdown page for a long answer.

Pure functions of a proposal (and the client's capabilities), so every editor gets the same
wording and the tests can check it without a client.
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from companion import paths
from companion.proposals import Proposal
from companion.quickfix.why import why_lines, why_text
from lsp_server.book import line_span

SOURCE = "companion"
ACCEPT, REJECT, SNOOZE = "Accept", "Reject", "Snooze 30 min"
COMMAND_OF = {ACCEPT: "companion.accept", REJECT: "companion.reject", SNOOZE: "companion.snooze"}
MAX_MESSAGE = 2000
RESPONSE_KIND = {"explain": "Explanation", "run_command": "Command to run (not run by companion)",
                 "edit": "Patch", "open": "Open"}


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def proposal_range(proposal: Proposal, lines: list[str] | None) -> types.Range:
    """The proposal's whole lines; the end is clamped to the document when its text is known."""
    start, end = line_span(proposal)
    if lines is not None and lines:
        start = min(start, len(lines) - 1)
        end = min(max(end, start), len(lines) - 1)
        end_char = len(lines[end].encode("utf-16-le")) // 2
    else:
        end_char = 0
        end += 1  # the start of the next line: the whole last line, without knowing its length
    return types.Range(start=types.Position(line=start, character=0),
                       end=types.Position(line=end, character=end_char))


def diagnostic(proposal: Proposal, uri: str, lines: list[str] | None, severity: str,
                related_information: bool) -> types.Diagnostic:
    """The task as the message, the response as related information (or below the message for
    clients without related information); the proposal id rides in `code` and `data`."""
    where = proposal_range(proposal, lines)
    response = clip(proposal.response)
    message = proposal.task or ""
    related = None
    if response:
        label = RESPONSE_KIND.get(proposal.operation or "", "Answer")
        if related_information:
            related = [types.DiagnosticRelatedInformation(
                location=types.Location(uri=uri, range=where), message=f"{label}: {response}")]
        else:
            message = f"{message}\n{label}: {response}"
    why = why_text(proposal.evidence, proposal.rule)
    if why:  # the evidence it rests on and the rule that fired
        if related_information:
            related = (related or []) + [types.DiagnosticRelatedInformation(
                location=types.Location(uri=uri, range=where), message=clip(f"Why: {why}", 600))]
        else:
            message = f"{message}\nWhy: {clip(why, 600)}"
    return types.Diagnostic(
        range=where, message=message, source=SOURCE, code=proposal.id,
        severity=types.DiagnosticSeverity.Hint if severity == "hint" else types.DiagnosticSeverity.Information,
        related_information=related, data={"proposal_id": proposal.id, "operation": proposal.operation})


def code_actions(proposal: Proposal, diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    """"Accept: <task>", "Reject", "Snooze 30 min" — each runs the matching companion command,
    so the answer is recorded whatever the action does to the buffer."""
    actions = []
    for label in (ACCEPT, REJECT, SNOOZE):
        title = f"{ACCEPT}: {proposal.task}" if label == ACCEPT else f"{label} ({clip(proposal.task or '', 60)})"
        actions.append(types.CodeAction(
            title=title, kind=types.CodeActionKind.QuickFix, diagnostics=diagnostics or None,
            is_preferred=label == ACCEPT or None,
            command=types.Command(title=title, command=COMMAND_OF[label], arguments=[proposal.id])))
    return actions


def message_request(proposal: Proposal) -> types.ShowMessageRequestParams:
    text = f"Companion: {proposal.task}"
    if proposal.response:
        text += f"\n\n{clip(proposal.response, 600)}"
    return types.ShowMessageRequestParams(
        type=types.MessageType.Info, message=text,
        actions=[types.MessageActionItem(title=t) for t in (ACCEPT, REJECT, SNOOZE)])


def markdown_page(proposal: Proposal) -> str:
    """The page an accepted `explain` or `run_command` proposal opens."""
    parts = [f"# {proposal.task}", ""]
    if proposal.path:
        where = proposal.path + (f", line {proposal.line}" if proposal.line else "")
        parts += [f"*About `{where}`*", ""]
    if proposal.operation == "run_command":
        parts += ["Companion suggests running this command (it never runs anything itself):", "",
                  "```sh", proposal.response.strip(), "```"]
    elif proposal.operation == "edit":
        parts += ["```diff", proposal.response.strip(), "```"]
    else:
        parts.append(proposal.response.strip())
    if proposal.purpose:
        parts += ["", f"*Why: {proposal.purpose.strip()}*"]
    lines = why_lines(proposal.evidence, proposal.rule)
    if lines:
        parts += ["", "## Why", ""] + [f"- {line}" for line in lines]
    return "\n".join(parts) + "\n"


def write_page(folder: Path, proposal: Proposal) -> Path:
    """The proposal's page in `folder` (0700), a file of the user's alone (0600): it quotes the
    evidence, which other local users must not read (the language server runs under the editor's
    umask, not the daemon's)."""
    path = paths.private_file(paths.private_dir(folder) / f"proposal-{proposal.id}.md")
    path.write_text(markdown_page(proposal), encoding="utf-8")
    return path
