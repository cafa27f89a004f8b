"""The user's own quick fixes, from the config (`[[quickfix.rules]]`), in the manner of VS Code's
`terminalQuickFixes`: a regex on the command line, one on the output, and a command template.

    [[quickfix.rules]]
    id = "free-port"                                    # required, unique
    command = '^npm (run )?start'                       # regex on the command line (optional)
    output = 'EADDRINUSE.*:(?P<port>\\d+)'              # regex on the output tail (optional)
    exit = "error"                                      # error (default) | any
    response = "PORT=$((${port}+1)) ${command}"         # template: ${name} = a named group, ${command}, ${0}
    task = "Start on the next port"                     # optional; default: "Run `<response>`"
    operation = "run_command"                           # run_command (default) | explain | open

`check_rules` is what the config loader calls: a broken regex or a missing key is a ConfigError
naming the file and the key, so a typo never silently disables a rule.
"""

from __future__ import annotations

import re
import string
from typing import Any, Iterator, Mapping, Sequence

from companion.quickfix.base import Candidate, Moment, Rule

KEYS = {"id", "command", "output", "exit", "response", "task", "operation", "confidence"}
EXITS = ("error", "any")  # "any": also Ctrl-C'd runs and commands without an exit code
USER_OPERATIONS = ("run_command", "explain", "open")


class RuleTemplate(string.Template):
    """`${name}`, `${1}` (a numbered group), `$$` for a literal `$`."""

    idpattern = r"(?a:[_a-z0-9][_a-z0-9]*)"
    flags = re.IGNORECASE


class UserRuleError(ValueError):
    """A user rule that cannot be used; the message names the key."""


def _compile(raw: Mapping[str, Any], key: str, where: str) -> re.Pattern[str] | None:
    text = raw.get(key)
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise UserRuleError(f"{where}.{key}: expected a regex string, got {type(text).__name__}")
    try:
        return re.compile(text, re.MULTILINE)
    except re.error as exc:
        raise UserRuleError(f"{where}.{key}: not a valid regex ({exc}): {text!r}") from None


def check_rule(raw: Any, where: str) -> None:
    """Raise UserRuleError (naming `where` and the key) for a rule that cannot be used."""
    if not isinstance(raw, Mapping):
        raise UserRuleError(f"{where}: a rule must be a table with id, command/output and response")
    unknown = set(raw) - KEYS
    if unknown:
        raise UserRuleError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(KEYS))})")
    if not isinstance(raw.get("id"), str) or not raw["id"].strip():
        raise UserRuleError(f"{where}.id: every rule needs an id (a short name)")
    if not isinstance(raw.get("response"), str) or not raw["response"].strip():
        raise UserRuleError(f"{where}.response: every rule needs a response template")
    if not raw.get("command") and not raw.get("output"):
        raise UserRuleError(f"{where}: a rule needs a command or an output regex (or both)")
    for key in ("command", "output"):
        _compile(raw, key, where)
    if raw.get("exit", "error") not in EXITS:
        raise UserRuleError(f"{where}.exit: expected one of {', '.join(EXITS)}, got {raw.get('exit')!r}")
    if raw.get("operation", "run_command") not in USER_OPERATIONS:
        raise UserRuleError(f"{where}.operation: expected one of {', '.join(USER_OPERATIONS)}, got {raw.get('operation')!r}")
    confidence = raw.get("confidence", 0.8)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise UserRuleError(f"{where}.confidence: expected a number from 0 to 1, got {confidence!r}")
    try:
        RuleTemplate(raw["response"]).get_identifiers()
    except ValueError as exc:
        raise UserRuleError(f"{where}.response: not a valid template ({exc})") from None


def check_rules(rules: Sequence[Any], where: str) -> None:
    seen: set[str] = set()
    for index, raw in enumerate(rules):
        check_rule(raw, f"{where}[{index}]")
        if raw["id"] in seen:
            raise UserRuleError(f"{where}[{index}].id: the id {raw['id']!r} is used twice")
        seen.add(raw["id"])


def _matches_exit(wanted: str, code: int | None) -> bool:
    if wanted == "any":
        return True
    return code not in (None, 0)


def make_rule(raw: Mapping[str, Any], where: str) -> Rule:
    check_rule(raw, where)
    command_re, output_re = _compile(raw, "command", where), _compile(raw, "output", where)
    template = RuleTemplate(raw["response"])
    wanted = str(raw.get("exit", "error"))
    operation = str(raw.get("operation", "run_command"))
    rule_id = f"user.{raw['id']}"

    def propose(moment: Moment) -> Iterator[Candidate]:
        if moment.kind != "shell.command" or not _matches_exit(wanted, moment.exit_code):
            return
        values: dict[str, str] = {"command": moment.command, "cwd": str(moment.cwd)}
        lines: list[str] = []
        for pattern, text in ((command_re, moment.command), (output_re, moment.output)):
            if pattern is None:
                continue
            found = pattern.search(text)
            if found is None:
                return
            values.update({k: v for k, v in found.groupdict().items() if v is not None})
            values.update({str(i): g for i, g in enumerate([found.group(0), *found.groups()]) if g is not None})
            if pattern is output_re:
                lines.append(found.group(0)[:300])
        response = template.safe_substitute(values).strip()
        task = RuleTemplate(str(raw.get("task") or "")).safe_substitute(values).strip() or f"Run `{response[:80]}`"
        yield Candidate(rule_id, task, operation, response=response, confidence=float(raw.get("confidence", 0.8)),
                        evidence={"output_lines": lines, "command": moment.command, "user_rule": raw["id"]})

    return Rule(rule_id, propose, frozenset({"failed_command"}), str(raw.get("task") or ""))


def user_rules(rules: Sequence[Any], origin: str = "config") -> list[Rule]:
    return [make_rule(raw, f"{origin}: quickfix.rules[{i}]") for i, raw in enumerate(rules)]
