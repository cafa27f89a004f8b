"""The issue's scenario through the real route: a hooked bash (and zsh under `companion shell`),
a real pytest run that passes, a one-line regression saved in the parser, the same run failing.
The stored failure carries the failing test's message and location (capture) and the suspect
hunk of the changed line (snapshots), and its sentence says both."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.shell.conftest import open_shell  # noqa: F401 (the fixture)
from tests.shell.helpers import shell_events

PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider tests"
PARSER = "".join(f"# line {n}\n" for n in range(1, 61)) + 'ESCAPES = {"\\\\n": "\\u000a"}\n\n\ndef parse(text):\n' \
         '    for escape, char in ESCAPES.items():\n        text = text.replace(escape, char)\n    return text\n'
TESTS = ("from pkg._parser import parse\n\n\nclass TestData:\n    def test_valid(self):\n"
         "        assert parse('\\\\n') == '\\n'\n")


@pytest.mark.parametrize("shell, proxied", [("bash", False), ("zsh", True)], ids=["bash-hook", "zsh-companion-shell"])
def test_the_failure_says_what_failed_and_what_changed(workspace: Path, daemon_factory, open_shell, shell, proxied) -> None:  # noqa: F811
    (workspace / "src" / "pkg").mkdir(parents=True)
    (workspace / "src" / "pkg" / "__init__.py").write_text("")
    parser = workspace / "src" / "pkg" / "_parser.py"
    parser.write_text(PARSER)
    (workspace / "tests").mkdir()
    (workspace / "tests" / "test_data.py").write_text(TESTS)
    (workspace / "pytest.ini").write_text("[pytest]\npythonpath = src\n")
    daemon = daemon_factory(workspace)
    sh = open_shell(shell, workspace, proxied=proxied, timeout=60)
    assert "1 passed" in sh.run(PYTEST)
    wait_for(lambda: shell_events(daemon.store, workspace), timeout=20)  # the green run is recorded

    parser.write_text(PARSER.replace('"\\u000a"', '"\\u0009"'))
    assert "1 failed" in sh.run(PYTEST)
    wait_for(lambda: len(shell_events(daemon.store, workspace)) >= 2, timeout=20)
    failed = daemon.store.events(workspace=str(workspace), kinds=["shell.command"])[-1]
    evidence = failed.data["evidence"]
    [failure] = evidence["failures"]
    assert failure["test"] == "tests/test_data.py::TestData::test_valid"
    assert (failure["path"], failure["line"]) == ("tests/test_data.py", 6)
    [suspect] = evidence["suspects"]
    assert (suspect["path"], suspect["line"]) == ("src/pkg/_parser.py", 61)
    assert evidence["green"]["kind"] == "command"

    from companion.render import render

    sentence = render(failed)
    assert sentence.startswith(f"The user ran `{PYTEST}` in the workspace root; it failed (exit 1) after ")
    assert ": `tests/test_data.py::TestData::test_valid` — AssertionError: assert" in sentence
    assert "(tests/test_data.py:6). Since it last succeeded, `src/pkg/_parser.py` line 61 changed: " \
           '`ESCAPES = {"\\\\n": "\\u000a"}` → `ESCAPES = {"\\\\n": "\\u0009"}`.' in sentence
