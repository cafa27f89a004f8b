"""The rule book: discovery, odd output, a rule that raises, and the user's own rules from the config."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import pytest

from companion.config import ConfigError, load_config
from companion.events import Event
from companion.quickfix import Candidate, Moment, RuleBook, discover, rule
from tests.quickfix.conftest import command_event


def test_every_family_module_is_discovered_without_a_central_list() -> None:
    ids = {r.id for r in discover()}
    families = {i.split(".")[0] for i in ids}
    assert {"regression", "traceback", "imports", "commands", "git", "conflicts", "ports", "files"} <= families
    assert len(ids) == len(discover())  # unique ids


def _event(ws: Path, output: str | bytes, command: str = "make", code: int = 2) -> Event:
    return Event(source="shell", kind="shell.command", workspace=str(ws),
                 data={"command": command, "cwd": str(ws), "exit_code": code,
                       "evidence": {"output": {"tail": output}, "failures": [{"test": None, "traceback": output}],
                                    "suspects": [{"path": "nope.py", "hunk": "@@ garbage"}]}})


@pytest.mark.parametrize("output", [
    "", "\0\1\2\xff" * 5000, os.urandom(4096).decode("latin-1"), "x" * 5_000_000,
    "\n".join(f"line {i}: error" for i in range(100_000)),
    "Fehler: Datei oder Verzeichnis nicht gefunden\nÜberprüfen Sie den Pfad: ./daten/eingabe.txt",
    "エラー: コマンドが見つかりません: gti", "Traceback (most recent call last):\n" * 3000,
    "<<<<<<< HEAD\n" * 1000, "CONFLICT (content): Merge conflict in \n",
])
def test_no_rule_raises_on_odd_output(ws: Path, output: str) -> None:
    book = RuleBook()
    for reason in ("failed_command", "tests_failing", "merge_conflict", "conflict_edited", "dirty_branch_switch",
                   "detached_commit"):
        book.candidates(Moment(reason, _event(ws, output), ws))
    assert book.off == {}, book.off


def test_odd_event_data_is_tolerated(ws: Path) -> None:
    book = RuleBook()
    weird = [{}, {"command": None, "exit_code": "x", "evidence": "nope"}, {"command": 5, "evidence": {"output": 3}},
             {"command": "git push", "exit_code": True, "evidence": {"failures": "x", "suspects": [None, 1, {}]}},
             {"command": "'unbalanced", "dirty_summary": {"names": None}}, {"cwd": "/does/not/exist", "dir": "../.."}]
    rng = random.Random(1)
    for data in weird:
        for reason in ("failed_command", "dirty_branch_switch", "detached_commit", "merge_conflict"):
            book.candidates(Moment(reason, Event(source="shell", kind=rng.choice(["shell.command", "git.commit"]),
                                                 data=data, workspace=str(ws)), ws))
        book.candidates(Moment("failed_command", None, ws))
    assert book.off == {}, book.off


def test_a_rule_that_raises_is_logged_once_and_switched_off(ws: Path, caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    @rule("test.broken")
    def broken(moment: Moment):
        calls.append(1)
        raise RuntimeError("boom")

    @rule("test.fine")
    def fine(moment: Moment):
        yield Candidate("", "Do the fine thing", "explain", response="fine", confidence=0.5)

    book = RuleBook([broken, fine])
    event = _event(ws, "oops")
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            assert [c.task for c in book.candidates(Moment("failed_command", event, ws))] == ["Do the fine thing"]
    assert len(calls) == 1 and book.off == {"test.broken": "RuntimeError: boom"}
    assert sum("test.broken" in r.getMessage() for r in caplog.records) == 1


RULES = """
[[quickfix.rules]]
id = "free-port"
command = '^npm (run )?start'
output = 'EADDRINUSE.*:(?P<port>\\d+)'
response = "PORT=$$((${port}+1)) ${command}"
task = "Start on the port after ${port}"
"""


def test_a_user_rule_from_the_config_fills_its_template(ws: Path, companion_home: Path) -> None:
    (ws / ".companion.toml").write_text(RULES)
    config = load_config(ws)
    book = RuleBook.from_config(config)
    output = "Error: listen EADDRINUSE: address already in use :::3000\n    at Server.setupListenHandle"
    event = Event(source="shell", kind="shell.command", workspace=str(ws),
                  data={"command": "npm start", "cwd": str(ws), "exit_code": 1, "evidence": {"output": {"tail": output}}})
    found = [c for c in book.candidates(Moment("failed_command", event, ws)) if c.rule == "user.free-port"]
    assert found[0].response == "PORT=$((3000+1)) npm start" and found[0].task == "Start on the port after 3000"
    assert found[0].evidence["output_lines"] == ["EADDRINUSE: address already in use :::3000"]
    other = Event(source="shell", kind="shell.command", workspace=str(ws),
                  data={"command": "yarn dev", "exit_code": 1, "evidence": {"output": {"tail": output}}})
    assert not [c for c in book.candidates(Moment("failed_command", other, ws)) if c.rule == "user.free-port"]


@pytest.mark.parametrize("body, message", [
    ('[[quickfix.rules]]\nid = "x"\noutput = "(unclosed"\nresponse = "y"\n', "quickfix.rules[0].output: not a valid regex"),
    ('[[quickfix.rules]]\nid = "x"\ncommand = "a"\n', "quickfix.rules[0].response: every rule needs a response"),
    ('[[quickfix.rules]]\nid = "x"\nresponse = "y"\n', "a rule needs a command or an output regex"),
    ('[[quickfix.rules]]\nid = "x"\ncommand = "a"\nresponse = "y"\nexit = "maybe"\n', "quickfix.rules[0].exit"),
    ('[[quickfix.rules]]\nid = "x"\ncommand = "a"\nresponse = "y"\nbogus = 1\n', "unknown key(s) bogus"),
])
def test_a_broken_user_rule_is_a_config_error_naming_the_file_and_key(ws: Path, companion_home: Path, body: str,
                                                                      message: str) -> None:
    (ws / ".companion.toml").write_text(body)
    with pytest.raises(ConfigError) as error:
        load_config(ws)
    assert str(ws / ".companion.toml") in str(error.value) and message in str(error.value)


def test_rules_switched_off_in_the_config_do_not_run(ws: Path, companion_home: Path) -> None:
    (ws / ".companion.toml").write_text('[quickfix]\ndisabled = ["commands.not_found"]\n')
    book = RuleBook.from_config(load_config(ws))
    assert not [c for c in book.candidates(Moment("failed_command", command_event(ws, "gti status"), ws))
                if c.rule == "commands.not_found"]
