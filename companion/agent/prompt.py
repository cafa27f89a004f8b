"""The agent prompt: ProactiveBench's format (system rules, observations in time order, feedback on
earlier proposals, a JSON answer) adapted to coding.

Why this shape: ProactiveBench's agents and its reward data speak it, so a model fine-tuned on the
user's own outcomes (training/, "the agent's own prompt format") sees exactly what the engine shows
it at run time. Keep `build_messages`, `format_reply` and `SYSTEM_RULES` stable: personalisation
builds its training examples with them.

Small models need help: the rules are short, the reply keys are fixed, two few-shot turns show one
case that deserves help and one that does not, and observations are cut to a token budget (newest
kept) so a 135M model's short attention is spent on what just happened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

Observation = Mapping[str, str]
Message = dict[str, str]
TokenCounter = Callable[[str], int]

REPLY_KEYS = ("purpose", "thoughts", "proactive_task", "response", "operation", "path", "line")

SYSTEM_RULES = """You are a proactive coding assistant. You watch what a developer does (files, shell commands, git, tests, editor) and offer help only when it is clearly wanted.

Answer with ONE JSON object and nothing else:
{"purpose": "what the user is trying to do", "thoughts": "why help is or is not needed now", "proactive_task": "a short task you offer, or null", "response": "the help itself, or empty", "operation": "explain | run_command | edit | open, or null", "path": "file the help concerns, or null", "line": line number or null}

Operations:
- explain: response is a short explanation.
- run_command: response is one shell command the user may run (it is shown, never run for them).
- edit: response is a unified diff (--- a/FILE, +++ b/FILE, @@ hunks) against the named file.
- open: path and line of the place the user should look at.

Rules:
- Offer help when something went wrong (a failed command, failing tests, a merge conflict) or the user seems stuck.
- Routine work (saving, editing, committing, passing tests) needs no help: set proactive_task to null.
- Feedback on earlier proposals: "accepted" means that kind of help is welcome; "rejected" means try another way; "ignored" means do not disturb the user now.
- Never repeat a task the user just answered.
- Keep proactive_task under 15 words."""

# The purpose and thoughts the shipped adapter was trained to write around ProactiveBench's tasks
# (training/agent_lora.py: the data has tasks but no reasons). They are fixed sentences, so a
# proactive_task that repeats one is the adapter echoing its training, not a task (parse.is_echo).
STOCK_REASONS = {
    True: {"purpose": "Help with what the user is doing right now.",
           "thoughts": "The latest events suggest the user would welcome help with this."},
    False: {"purpose": "Carry on with the current work.",
            "thoughts": "The user is working normally and needs no help now."},
}

INSTRUCTION = "Analyse the events and answer with one JSON object; proactive_task is null if the user needs no help."

FEEDBACK_MEANING = {
    "accepted": "accepted (this kind of help is welcome)",
    "rejected": "rejected (try another way)",
    "ignored": "ignored (do not disturb the user now)",
    "snoozed": "snoozed (the user wants it later, not now)",
}


@dataclass(frozen=True)
class Feedback:
    """How the user answered an earlier proposal."""

    task: str
    outcome: str  # accepted | rejected | ignored | snoozed
    time: str = ""


@dataclass(frozen=True)
class FocusedFile:
    """Lines of the file an event names, shown so the model can explain or patch it."""

    path: str
    start_line: int
    lines: Sequence[str] = field(default_factory=tuple)


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate (about four characters a token for English and code)."""
    return max(1, (len(text) + 3) // 4)


def format_observation(observation: Observation) -> str:
    return f"[{observation.get('time', '')}] {observation.get('event', '')}"


def select_observations(observations: Sequence[Observation], max_tokens: int,
                        count_tokens: TokenCounter = approx_tokens) -> list[Observation]:
    """The newest observations that fit the budget, in time order (the latest always kept)."""
    chosen: list[Observation] = []
    used = 0
    for observation in reversed(observations):
        cost = count_tokens(format_observation(observation)) + 1
        if chosen and used + cost > max_tokens:
            break
        chosen.append(observation)
        used += cost
    chosen.reverse()
    return chosen


def _feedback_items(feedback: Iterable[Feedback | Mapping[str, Any]]) -> list[Feedback]:
    items = []
    for item in feedback:
        if isinstance(item, Feedback):
            items.append(item)
        else:
            items.append(Feedback(task=str(item.get("task") or ""), outcome=str(item.get("outcome") or ""),
                                  time=str(item.get("time") or "")))
    return [i for i in items if i.task and i.outcome]


def format_feedback(feedback: Iterable[Feedback | Mapping[str, Any]]) -> str:
    lines = []
    for item in _feedback_items(feedback):
        when = f"[{item.time}] " if item.time else ""
        lines.append(f"- {when}\"{item.task}\": {FEEDBACK_MEANING.get(item.outcome, item.outcome)}")
    return "\n".join(lines)


def format_focus(focus: FocusedFile) -> str:
    numbered = "\n".join(f"{focus.start_line + i:>5} | {line}" for i, line in enumerate(focus.lines))
    return f"Focused file `{focus.path}`:\n{numbered}"


CANDIDATES_INSTRUCTION = ("Rules found the candidates above in the evidence. If one is right, answer with its task "
                          "exactly and explain why in thoughts. Propose your own help only if it names a file, test or "
                          "command from the evidence.")


def _fit(lines: Sequence[str], max_tokens: int, count_tokens: TokenCounter) -> list[str]:
    """The first lines that fit the budget."""
    kept, used = [], 0
    for line in lines:
        cost = count_tokens(line) + 1
        if kept and used + cost > max_tokens:
            break
        kept.append(line)
        used += cost
    return kept


def format_evidence(evidence: Mapping[str, Any] | None, max_tokens: int = 300,
                    count_tokens: TokenCounter = approx_tokens) -> str:
    """The trigger's evidence (failures, suspect changes, the output's last lines) within a token budget:
    failures and suspects first, then as much of the output's end as fits."""
    if not isinstance(evidence, Mapping) or max_tokens <= 0:
        return ""
    lines: list[str] = []
    for failure in list(evidence.get("failures") or [])[:3]:
        if isinstance(failure, Mapping):
            where = f" ({failure.get('path')}:{failure.get('line')})" if failure.get("path") else ""
            lines.append(f"- failed: {failure.get('test') or '?'}: {str(failure.get('message') or '')[:200]}{where}")
    for suspect in list(evidence.get("suspects") or [])[:3]:
        if isinstance(suspect, Mapping):
            removed = "; ".join(str(r).strip() for r in (suspect.get("removed") or [])[:2])[:100]
            added = "; ".join(str(a).strip() for a in (suspect.get("added") or [])[:2])[:100]
            lines.append(f"- changed since it last passed: {suspect.get('path')}:{suspect.get('line')}: "
                         f"`{removed}` -> `{added}`")
    head = _fit(lines, max_tokens, count_tokens)
    used = sum(count_tokens(line) + 1 for line in head)
    output = evidence.get("output")
    tail = str(output.get("tail") or "") if isinstance(output, Mapping) else ""
    if tail.strip() and max_tokens - used > 10:
        out_lines = [line[:200] for line in tail.splitlines() if line.strip()]
        chosen = list(reversed(_fit(list(reversed(out_lines)), max_tokens - used - 2, count_tokens)))
        head.append("- output (last lines):\n" + "\n".join(f"    {line}" for line in chosen))
    return "\n".join(head)


def format_candidates(candidates: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for number, candidate in enumerate(candidates, start=1):
        where = f" at {candidate.get('path')}" + (f":{candidate.get('line')}" if candidate.get("line") else "") \
            if candidate.get("path") else ""
        response = str(candidate.get("response") or "").strip().splitlines()
        shown = f" — {response[0][:120]}" if response and candidate.get("operation") != "edit" else ""
        lines.append(f"{number}. [{candidate.get('operation')}] {candidate.get('task')}{where}{shown}")
    return "\n".join(lines)


def format_user_turn(observations: Sequence[Observation], feedback: Iterable[Feedback | Mapping[str, Any]] = (),
                     focus: FocusedFile | None = None, evidence_text: str = "",
                     candidates: Sequence[Mapping[str, Any]] = ()) -> str:
    """The user message of one step: observations oldest first, then the evidence and the rules'
    candidates (when there are any), then feedback, then the focused file."""
    parts = ["Events (oldest first):\n" + "\n".join(format_observation(o) for o in observations)]
    if evidence_text:
        parts.append("Evidence of the latest event:\n" + evidence_text)
    if candidates:
        parts.append("Candidate help:\n" + format_candidates(candidates) + "\n" + CANDIDATES_INSTRUCTION)
    feedback_text = format_feedback(feedback)
    if feedback_text:
        parts.append("Feedback on your earlier proposals:\n" + feedback_text)
    if focus is not None and focus.lines:
        parts.append(format_focus(focus))
    parts.append(INSTRUCTION)
    return "\n\n".join(parts)


def format_reply(reply: Mapping[str, Any]) -> str:
    """An assistant turn in the exact JSON the parser expects (also used for fine-tuning targets)."""
    return json.dumps({key: reply.get(key) for key in REPLY_KEYS}, ensure_ascii=False)


# Two short demonstrations: one failure that deserves help, one routine step that does not.
FEW_SHOT: tuple[tuple[list[dict[str, str]], dict[str, Any]], ...] = (
    ([{"time": "2026-03-02 10:14:03", "event": "The user saved `app/db.py` (42 lines, 3 changed)."},
      {"time": "2026-03-02 10:14:20", "event": "The user ran `python -m app` in `.`; it failed (exit 1) after 0.4 s: "
                                               "ModuleNotFoundError: No module named 'sqlalchemy'."}],
     {"purpose": "Run the application after editing the database module.",
      "thoughts": "The run failed because a dependency is missing; installing it fixes the error.",
      "proactive_task": "Install the missing sqlalchemy package",
      "response": "pip install sqlalchemy", "operation": "run_command", "path": None, "line": None}),
    ([{"time": "2026-03-02 11:02:41", "event": "The user saved `README.md` (18 lines, 2 changed)."},
      {"time": "2026-03-02 11:03:05", "event": "The user ran `git commit -m 'Update readme'` in `.`; it succeeded."}],
     {"purpose": "Commit a documentation change.",
      "thoughts": "The commit succeeded; the user is working normally and needs no help.",
      "proactive_task": None, "response": "", "operation": None, "path": None, "line": None}),
)


def few_shot_messages() -> list[Message]:
    messages: list[Message] = []
    for observations, reply in FEW_SHOT:
        messages.append({"role": "user", "content": format_user_turn(observations)})
        messages.append({"role": "assistant", "content": format_reply(reply)})
    return messages


def build_messages(observations: Sequence[Observation], feedback: Iterable[Feedback | Mapping[str, Any]] = (),
                   focus: FocusedFile | None = None, *, few_shot: bool = True, max_observation_tokens: int = 600,
                   count_tokens: TokenCounter = approx_tokens, evidence: Mapping[str, Any] | None = None,
                   candidates: Sequence[Mapping[str, Any]] = (), max_evidence_tokens: int = 400) -> list[Message]:
    """Chat messages for one agent step: system rules, optional few-shot turns, then this step.

    `observations` are {"time", "event"} dicts oldest first; only the newest that fit
    `max_observation_tokens` are kept. `feedback` lists earlier proposals with their outcome.
    `evidence` (the trigger event's, see the evidence contract) and the quick-fix `candidates`
    ({"task", "operation", "response", "path", "line"}) share `max_evidence_tokens`.
    """
    if not observations:
        raise ValueError("the agent needs at least one observation")
    kept = select_observations(observations, max_observation_tokens, count_tokens)
    messages: list[Message] = [{"role": "system", "content": SYSTEM_RULES}]
    if few_shot:
        messages.extend(few_shot_messages())
    shown = list(candidates)[:5]
    budget = max_evidence_tokens - count_tokens(format_candidates(shown)) if shown else max_evidence_tokens
    evidence_text = format_evidence(evidence, budget, count_tokens) if evidence else ""
    messages.append({"role": "user", "content": format_user_turn(kept, feedback, focus, evidence_text, shown)})
    return messages
