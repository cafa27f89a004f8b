"""The prompt builder and the reply parser: ProactiveBench format in, robust parsing out."""

from __future__ import annotations

import json

import pytest

from companion.agent.parse import parse_reply
from companion.agent.prompt import (SYSTEM_RULES, Feedback, FocusedFile, build_messages, format_reply,
                                    select_observations)


def obs(i: int, text: str = "The user saved `a.py`.") -> dict[str, str]:
    return {"time": f"2026-01-01 10:00:{i:02d}", "event": f"{text} #{i}"}


def test_messages_have_rules_few_shot_and_the_step_in_time_order() -> None:
    messages = build_messages([obs(1), obs(2, "The user ran `pytest`; it failed.")],
                              feedback=[Feedback("Run the tests", "rejected"), {"task": "Explain X", "outcome": "ignored"}],
                              focus=FocusedFile("a.py", 10, ["def f():", "    return 1"]))
    assert messages[0] == {"role": "system", "content": SYSTEM_RULES}
    assert [m["role"] for m in messages[1:5]] == ["user", "assistant", "user", "assistant"]
    last = messages[-1]["content"]
    assert last.index("#1") < last.index("#2")
    assert "rejected (try another way)" in last and "ignored (do not disturb the user now)" in last
    assert "   10 | def f():" in last and "   11 |     return 1" in last
    for shot in messages[2:5:2]:
        json.loads(shot["content"])  # few-shot answers are valid JSON in the reply format


def test_observation_budget_keeps_the_newest() -> None:
    many = [obs(i, "x" * 200) for i in range(30)]
    kept = select_observations(many, max_tokens=200)
    assert kept == many[-len(kept):] and 1 <= len(kept) < 30
    assert select_observations([obs(1, "y" * 5000)], max_tokens=10) == [obs(1, "y" * 5000)]
    with pytest.raises(ValueError):
        build_messages([])


def test_format_reply_roundtrips_through_the_parser() -> None:
    text = format_reply({"purpose": "p", "thoughts": "t", "proactive_task": "Install x", "response": "pip install x",
                         "operation": "run_command"})
    reply = parse_reply(text)
    assert (reply.task, reply.response, reply.operation, reply.problem) == ("Install x", "pip install x", "run_command", None)


@pytest.mark.parametrize("text", [
    '```json\n{"proactive_task": "Fix the import", "response": "Add it", "operation": "explain"}\n```\nHope this helps!',
    'Sure! {"proactive_task": "Fix the import", "response": "Add it"} and more text {',
    "{'Proactive Task': 'Fix the import', 'Response': 'Add it'}",
    '{"Proactive Task": "Fix the import", "Response": "Add it", "Operation": "explanation"',
])
def test_messy_json_is_repaired(text: str) -> None:
    reply = parse_reply(text)
    assert reply.task == "Fix the import"
    assert reply.response == "Add it"
    assert reply.operation == "explain"


@pytest.mark.parametrize("text", ["", "   ", "I think the user is fine.", "[1, 2, 3]", "{}", "<<<>>>",
                                  '{"purpose": "editing"}'])
def test_garbage_is_no_task_with_a_problem(text: str) -> None:
    reply = parse_reply(text)
    assert reply.task is None
    assert reply.problem


@pytest.mark.parametrize("value", ["null", None, "None", "", "no task", []])
def test_null_tasks(value: object) -> None:
    reply = parse_reply(json.dumps({"proactive_task": value, "response": "x"}))
    assert reply.task is None and reply.problem is None


def test_diff_response_is_an_edit_and_line_is_read() -> None:
    reply = parse_reply(json.dumps({"proactive_task": "Fix it", "response": "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n",
                                    "path": "x.py", "line": "3"}))
    assert reply.operation == "edit" and reply.path == "x.py" and reply.line == 3


def test_an_echo_of_the_format_is_no_task() -> None:
    reply = parse_reply('{"purpose": "what the user is trying to do", "proactive_task": "a short task you offer, or null", '
                        '"response": "the help itself, or empty"}')
    assert reply.task is None and "echoed" in reply.problem


def test_a_task_that_repeats_the_adapters_stock_purpose_is_no_task() -> None:
    """The shipped adapter learnt fixed purpose/thoughts sentences and sometimes writes one as the task."""
    reply = parse_reply(json.dumps({"purpose": "Help with what the user is doing right now.",
                                    "proactive_task": "Help with what the user is doing right now",
                                    "response": ""}))
    assert reply.task is None and "echoed" in reply.problem
    assert parse_reply(json.dumps({"proactive_task": "Help with the failing test in test_api.py"})).task is not None
