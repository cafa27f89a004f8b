"""Operations are checked against real files before they are offered; patches apply only on request."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.agent.operations import clean_command, validate_reply
from companion.agent.parse import AgentReply
from companion.patching import PatchError, apply, check

SOURCE = "import os\n\n\ndef greet(name):\n    return 'hello ' + nme\n\n\nprint(greet('x'))\n"
DIFF = """--- a/app.py
+++ b/app.py
@@ -4,2 +4,2 @@
 def greet(name):
-    return 'hello ' + nme
+    return 'hello ' + name
"""


@pytest.fixture
def app(workspace: Path) -> Path:
    (workspace / "app.py").write_text(SOURCE)
    return workspace


def test_a_clean_diff_is_offered_and_applied_only_on_request(app: Path) -> None:
    reply = validate_reply(AgentReply(task="Fix the typo", response=DIFF, operation="edit"), app)
    assert reply.operation == "edit" and reply.path == "app.py" and reply.problem is None
    assert (app / "app.py").read_text() == SOURCE  # checking writes nothing
    apply(app, reply.response, reply.path)
    assert "return 'hello ' + name\n" in (app / "app.py").read_text()


def test_miscounted_line_numbers_still_apply(app: Path) -> None:
    checked = check(app, DIFF.replace("@@ -4,2 +4,2 @@", "@@ -1,2 +1,2 @@"))
    assert checked.path == "app.py" and "+ name\n" in checked.after


def test_a_diff_that_does_not_match_is_downgraded(app: Path) -> None:
    bad = DIFF.replace("def greet(name):", "def welcome(name):")
    reply = validate_reply(AgentReply(task="Fix it", response=bad, operation="edit"), app)
    assert reply.operation == "explain" and "does not apply" in reply.response and reply.problem
    with pytest.raises(PatchError):
        apply(app, bad)
    assert (app / "app.py").read_text() == SOURCE


def test_a_diff_outside_the_workspace_is_refused(app: Path) -> None:
    with pytest.raises(PatchError):
        check(app, DIFF.replace("a/app.py", "a/../../etc/passwd").replace("b/app.py", "b/../../etc/passwd"))


def test_open_needs_an_existing_file_and_clamps_the_line(app: Path) -> None:
    ok = validate_reply(AgentReply(task="Look here", operation="open", path="./app.py", line=999), app)
    assert (ok.operation, ok.path, ok.line) == ("open", "app.py", 8)
    missing = validate_reply(AgentReply(task="Look here", operation="open", path="nope.py", line=2), app)
    assert missing.operation == "explain" and missing.path is None


def test_run_command_is_reduced_to_the_command() -> None:
    reply = validate_reply(AgentReply(task="Install", operation="run_command",
                                      response="Run this:\n```bash\n$ pip install requests\n```"), None)
    assert reply.response == "pip install requests"
    assert clean_command("`make test`") == "make test"


def test_doctor_reports_the_agent_backend(workspace: Path, tmp_path: Path) -> None:
    import json

    from tests.conftest import run_cli

    (workspace / ".companion.toml").write_text('[agent]\nbackend = "ollama"\nollama_host = "http://127.0.0.1:9"\n')
    done = run_cli("doctor", str(workspace), "--json")
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    if "agent" in checks:  # the doctor CLI imports companion.agent.checks once the lead wires it in
        assert not checks["agent"]["ok"] and "ollama serve" in checks["agent"]["detail"]
    from companion.agent.checks import agent_backend

    result = agent_backend(workspace)
    assert not result.ok and "Ollama does not answer" in result.detail
