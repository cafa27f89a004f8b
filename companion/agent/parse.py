"""Turn whatever the model wrote into an AgentReply, or "no task" when nothing usable is there.

Small local models wrap JSON in code fences, add chatter after it, use single quotes, drop keys
or invent their own spellings ("Proactive Task", "task"). The parser accepts all of that with
the `json_repair` library; anything it still cannot read counts as "no task" and is logged, so a
confused model costs one silent step, never a crash or a nonsense proposal.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from companion.proposals import OPERATIONS

log = logging.getLogger(__name__)
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)(?:```|$)", re.DOTALL)
_NULLS = {"", "null", "none", "nil", "n/a", "no", "no task", "nothing", "false", "[]", "{}"}
_KEY_ALIASES = {
    "proactive_task": "task", "task": "task", "proposed_task": "task", "proactivetask": "task",
    "response": "response", "answer": "response", "help": "response",
    "purpose": "purpose", "thoughts": "thoughts", "thought": "thoughts", "reasoning": "thoughts",
    "operation": "operation", "op": "operation", "action": "operation",
    "path": "path", "file": "path", "line": "line", "line_number": "line",
}
_OPERATION_ALIASES = {"command": "run_command", "run": "run_command", "shell": "run_command", "patch": "edit",
                      "diff": "edit", "goto": "open", "open_file": "open", "explanation": "explain"}


@dataclass
class AgentReply:
    """One parsed model answer. `task` None means the agent proposes nothing this step."""

    task: str | None = None
    response: str = ""
    operation: str | None = None
    purpose: str = ""
    thoughts: str = ""
    path: str | None = None
    line: int | None = None
    problem: str | None = None  # why the reply was unusable or changed (for logs and eval)
    raw: str = ""

    @property
    def is_task(self) -> bool:
        return self.task is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _json_candidate(text: str) -> str:
    """The part of a reply most likely to be the JSON object: a fenced block, else the outer braces."""
    for block in _FENCE.findall(text):
        if "{" in block:
            text = block
            break
    start = text.find("{")
    if start < 0:
        return text
    depth, in_string, quote, escape = 0, False, "", False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escape:
                escape = False
            elif char == "\\":
                escape = True
            elif char == quote:
                in_string = False
        elif char in "\"'":
            in_string, quote = True, char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start:index + 1]
    return text[start:]  # unbalanced: let json_repair close it


def _load_object(text: str) -> Any:
    candidate = _json_candidate(text)
    try:
        return json.loads(candidate)
    except ValueError:
        pass
    from json_repair import repair_json

    try:
        return repair_json(candidate, return_objects=True)
    except Exception:  # json_repair is best effort; a crash there is still "no task"
        return None


def _normalise_key(key: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(key).strip().lower())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip()


@functools.cache
def _placeholders() -> frozenset[str]:
    """Text a small model sometimes echoes as its answer: the descriptions in the prompt's reply
    format, and the stock purpose and thoughts the shipped adapter learnt to write."""
    from companion.agent.prompt import STOCK_REASONS, SYSTEM_RULES

    described = {m.group(1).strip().lower() for m in re.finditer(r'": "([^"]+)"', SYSTEM_RULES)}
    stock = {text.strip(" .`'\"").lower() for reasons in STOCK_REASONS.values() for text in reasons.values()}
    return frozenset(described | stock)


def _task(value: Any) -> str | None:
    if isinstance(value, (list, tuple)):  # ProactiveBench's agents sometimes answer a list of tasks
        value = next((v for v in value if _task(v)), None)
    text = _text(value)
    if text.strip(" .`'\"").lower() in _NULLS:
        return None
    return text


def is_echo(text: str) -> bool:
    return text.strip(" .`'\"").lower() in _placeholders()


def _operation(value: Any, response: str) -> str | None:
    text = _normalise_key(_text(value)).strip("`'\"")
    text = _OPERATION_ALIASES.get(text, text)
    if text in OPERATIONS:
        return text
    if re.search(r"^@@ ", response, re.MULTILINE) or response.lstrip().startswith("--- "):
        return "edit"
    return "explain" if response else None


def _line(value: Any) -> int | None:
    try:
        line = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return line if line > 0 else None


def reply_from_mapping(raw: Mapping[str, Any], text: str = "") -> AgentReply:
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        name = _KEY_ALIASES.get(_normalise_key(key)) or _KEY_ALIASES.get(_normalise_key(key).replace("_", ""))
        if name and name not in fields:
            fields[name] = value
    task = _task(fields.get("task"))
    response = _text(fields.get("response"))
    if task is not None and is_echo(task):
        return AgentReply(raw=text, problem="the model echoed the reply format or a stock sentence instead of answering")
    if task is None:
        return AgentReply(purpose=_text(fields.get("purpose")), thoughts=_text(fields.get("thoughts")), raw=text,
                          problem=None if "task" in fields else "the reply has no proactive_task key")
    path = _text(fields.get("path")) or None
    if path and path.strip("`'\" ").lower() in _NULLS:
        path = None
    return AgentReply(task=task, response=response, operation=_operation(fields.get("operation"), response),
                      purpose=_text(fields.get("purpose")), thoughts=_text(fields.get("thoughts")),
                      path=path.strip("`'\" ") if path else None, line=_line(fields.get("line")), raw=text)


def parse_reply(text: str) -> AgentReply:
    """The AgentReply in a model's raw output; unusable output becomes "no task" with a logged problem."""
    if not text or not text.strip():
        reply = AgentReply(problem="the model returned nothing", raw=text or "")
    else:
        loaded = _load_object(text)
        if isinstance(loaded, list):
            loaded = next((item for item in loaded if isinstance(item, dict)), None)
        if not isinstance(loaded, dict) or not loaded:
            reply = AgentReply(problem="no JSON object in the reply", raw=text)
        else:
            reply = reply_from_mapping(loaded, text)
    if reply.problem:
        log.info("agent reply unusable (%s): %.300r", reply.problem, text)
    return reply
