"""Real pytest runs typed into hooked shells: the failing assertion's message and location reach
the stored `shell.command` event, from the JUnit report the hook asked for, from the user's own
`--junitxml` (on the command line or in their PYTEST_ADDOPTS), or from pytest's short summary in the
captured output; and nothing stays in the spool: no report for a command that is not recorded, and
a report made private (0600) before pytest writes it."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from companion.shell import spool
from tests.conftest import wait_for
from tests.shell.conftest import SHELLS
from tests.shell.helpers import by_command, shell_events, spool_records

PYTEST = f"{sys.executable} -m pytest -q -p no:cacheprovider"
TEST_FILE = '''
def parse(text):
    return text.replace("\\\\n", "\\t")


class TestData:
    def test_valid(self):
        assert parse("\\\\n") == "\\n"

    def test_fine(self):
        assert parse("a") == "a"


def test_more():
    value = {"key": 1}
    assert value["key"] == 2
'''


def project(root: Path) -> Path:
    (root / "tests").mkdir()
    (root / "tests" / "test_data.py").write_text(TEST_FILE)
    return root


def leftovers() -> list[str]:
    """Per-command files holding anything (a shell keeps one empty report file ready for its next run)."""
    return [p.name for p in spool.spool_dir().iterdir()
            if p.name.startswith(("out-", "pytest-")) and p.stat().st_size]


def reports() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in spool.spool_dir().glob("pytest-*.xml")} if spool.spool_dir().exists() else {}


EXPORT = {"bash": "export {}={}", "zsh": "export {}={}", "fish": "set -gx {} {}"}


def check_failures(evidence: dict) -> None:
    assert evidence["failure_count"] == 2
    first, second = evidence["failures"]
    assert first["test"] == "tests/test_data.py::TestData::test_valid"
    assert first["message"].startswith("AssertionError: assert")
    assert (first["path"], first["line"]) == ("tests/test_data.py", 8)
    assert "assert parse" in first["traceback"]
    assert second["test"] == "tests/test_data.py::test_more"
    assert (second["path"], second["line"]) == ("tests/test_data.py", 16)
    assert "assert 1 == 2" in second["message"]


@pytest.mark.parametrize("shell", SHELLS)
def test_a_failing_pytest_run_gives_its_failures_from_the_hooks_junit_report(shell, workspace, daemon_factory, open_shell):
    project(workspace)
    daemon = daemon_factory(workspace)
    sh = open_shell(shell, workspace, timeout=60)
    shown = sh.run(f"{PYTEST} tests")
    assert "2 failed, 1 passed" in shown  # pytest ran as usual
    assert "junitxml" in sh.run("echo $PYTEST_ADDOPTS")  # every command gets it, only while it runs
    wait_for(lambda: len(shell_events(daemon.store, workspace)) >= 2, timeout=20)
    events = by_command(shell_events(daemon.store, workspace))
    check_failures(events[f"{PYTEST} tests"]["evidence"])
    assert leftovers() == []


def test_the_users_own_junitxml_wins_and_is_read_and_kept(workspace, daemon_factory, open_shell):
    project(workspace)
    daemon = daemon_factory(workspace)
    sh = open_shell("bash", workspace, before="export PYTEST_ADDOPTS=-rA", timeout=60)
    sh.run(f"{PYTEST} --junitxml=mine.xml tests")
    wait_for(lambda: shell_events(daemon.store, workspace), timeout=20)
    check_failures(shell_events(daemon.store, workspace)[0]["evidence"])
    assert (workspace / "mine.xml").exists()
    assert sh.run("echo [$PYTEST_ADDOPTS]").strip().endswith(" -rA]")  # the user's value comes after ours
    assert leftovers() == []


def test_without_a_report_the_short_summary_in_the_output_gives_the_failures(workspace, daemon_factory, open_shell):
    project(workspace)
    daemon = daemon_factory(workspace)
    sh = open_shell("zsh", workspace, proxied=True, env={"COMPANION_PYTEST_REPORT": "0"}, timeout=60)
    sh.run(f"{PYTEST} tests")
    wait_for(lambda: shell_events(daemon.store, workspace), timeout=20)
    evidence = shell_events(daemon.store, workspace)[0]["evidence"]
    assert "short test summary info" in evidence["output"]["tail"]
    check_failures(evidence)


def test_a_pytest_that_rejects_the_option_still_runs(workspace, daemon_factory, open_shell):
    project(workspace)
    daemon = daemon_factory(workspace)
    sh = open_shell("bash", workspace, timeout=60)
    shown = sh.run(f"{PYTEST} -p no:junitxml tests")
    assert "2 failed, 1 passed" in shown and "unrecognized" not in shown
    wait_for(lambda: shell_events(daemon.store, workspace), timeout=20)
    assert shell_events(daemon.store, workspace)[0]["exit_code"] == 1


def test_thousands_of_failures_keep_the_first_twenty_and_the_count(workspace, daemon_factory, open_shell):
    (workspace / "test_many.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('n', range(1500))\ndef test_n(n):\n    assert n < 0\n")
    daemon = daemon_factory(workspace)
    sh = open_shell("bash", workspace, proxied=True, timeout=120)
    sh.run(f"{PYTEST} test_many.py")
    wait_for(lambda: shell_events(daemon.store, workspace), timeout=60)
    evidence = shell_events(daemon.store, workspace)[0]["evidence"]
    assert evidence["failure_count"] == 1500 and len(evidence["failures"]) == 20
    assert evidence["failures"][0]["test"] == "test_many.py::test_n[0]"
    assert evidence["output"]["truncated"] is True
    assert leftovers() == []


def test_secrets_in_captured_output_and_reports_are_redacted_in_the_store(workspace, daemon_factory, open_shell):
    key = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    (workspace / "test_secret.py").write_text(f"def test_token():\n    token = '{key}'\n    assert token == ''\n")
    daemon = daemon_factory(workspace)
    sh = open_shell("bash", workspace, proxied=True, timeout=60)
    sh.run(f"echo {key}; {PYTEST} test_secret.py")
    wait_for(lambda: shell_events(daemon.store, workspace), timeout=20)
    event = shell_events(daemon.store, workspace)[0]
    assert event["evidence"]["failure_count"] == 1 and event["evidence"]["output"]["tail"]
    assert key not in repr(event)
    assert leftovers() == []


def test_a_pytest_that_never_finishes_is_interrupted_by_the_user_and_recorded(workspace, daemon_factory, open_shell):
    (workspace / "test_hang.py").write_text("import time\n\ndef test_forever():\n    time.sleep(600)\n")
    daemon = daemon_factory(workspace)
    sh = open_shell("bash", workspace, proxied=True, timeout=60)
    os.write(sh.fd, f"{PYTEST} test_hang.py\r".encode())
    time.sleep(3)
    os.write(sh.fd, b"\x03")
    assert "KeyboardInterrupt" in sh.wait_prompt()
    wait_for(lambda: shell_events(daemon.store, workspace), timeout=20)
    event = shell_events(daemon.store, workspace)[0]
    assert event["exit_code"] in (2, 130) and "KeyboardInterrupt" in event["evidence"]["output"]["tail"]
    assert "failures" not in event["evidence"]  # interrupted, not failed
    assert leftovers() == []


@pytest.mark.parametrize("shell", SHELLS)
def test_a_leading_space_pytest_run_gets_no_report_and_a_recorded_runs_report_is_private(shell, workspace, open_shell):
    project(workspace)
    sh = open_shell(shell, workspace, before="umask 022", timeout=120)  # no daemon: the spool keeps what it gets
    shown = sh.run(f" {PYTEST} tests")
    assert "2 failed, 1 passed" in shown and "generated xml file" not in shown  # pytest was not asked for one
    assert reports() == {}  # nothing of it in the spool, not even an empty file
    assert not any(b"assert parse" in path.read_bytes() for path in spool.spool_dir().iterdir() if path.is_file())
    assert not any("pytest" in record.command for record in spool_records())

    shown = sh.run(f"{PYTEST} tests")
    assert "generated xml file" in shown
    record = next(r for r in spool_records() if r.command == f"{PYTEST} tests")
    report = spool.spool_dir() / f"pytest-{record.flags['junit']}.xml"
    assert b"AssertionError" in report.read_bytes()
    assert oct(report.stat().st_mode & 0o777) == oct(0o600)  # made 0600 before pytest wrote it, whatever the umask

    # recording turned off by the command itself: no record, so its report is deleted at once
    sh.run(f"{EXPORT[shell].format('COMPANION_SHELL_OFF', 1)}; {PYTEST} tests")
    assert [name for name, data in reports().items() if data] == [report.name]
    assert all(oct(p.stat().st_mode & 0o777) == oct(0o600) for p in spool.spool_dir().glob("pytest-*.xml"))


@pytest.mark.parametrize("shell", SHELLS)
def test_a_junitxml_in_the_users_pytest_addopts_is_read_and_the_hook_adds_none(shell, workspace, daemon_factory,
                                                                               open_shell):
    project(workspace)
    daemon = daemon_factory(workspace)
    addopts = "-rA --junitxml='my reports/mine.xml'"
    sh = open_shell(shell, workspace, before=EXPORT[shell].format("PYTEST_ADDOPTS", f'"{addopts}"'), timeout=120)
    sh.run(f"{PYTEST} tests")
    wait_for(lambda: shell_events(daemon.store, workspace), timeout=30)
    check_failures(shell_events(daemon.store, workspace)[0]["evidence"])
    assert b"AssertionError" in (workspace / "my reports" / "mine.xml").read_bytes()  # theirs: kept
    assert f"[{addopts}]" in sh.run('echo "[$PYTEST_ADDOPTS]"').replace("\r", "").split("\n")  # as they set it
    assert leftovers() == [] and reports() == {}


def test_the_tests_a_passing_run_reports_become_greens_of_their_own_and_are_not_stored(workspace, daemon_factory,
                                                                                      open_shell):
    """A narrow passing run (`pytest tests/test_calc.py`) is the last passing run of each test it ran:
    when `python -m pytest -x tests` (another command, never green) then fails one of them, the
    suspects are measured from that narrow run, named by the test's id; the ids are not stored."""
    (workspace / "tests").mkdir()
    (workspace / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    (workspace / "tests" / "test_calc.py").write_text(
        "from calc import add, sub\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_sub():\n"
        "    assert sub(5, 3) == 2\n")
    (workspace / "conftest.py").write_text("")
    daemon = daemon_factory(workspace)
    sh = open_shell("bash", workspace, timeout=60)
    assert "2 passed" in sh.run(f"{PYTEST} tests/test_calc.py")
    wait_for(lambda: shell_events(daemon.store, workspace), timeout=20)
    [green] = shell_events(daemon.store, workspace)
    assert "passed" not in (green.get("evidence") or {})  # greens to mark, not data to keep
    (workspace / "calc.py").write_text("def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n")
    shown = sh.run(f"{PYTEST} -x tests")
    assert "1 failed" in shown
    wait_for(lambda: len(shell_events(daemon.store, workspace)) >= 2, timeout=20)
    evidence = by_command(shell_events(daemon.store, workspace))[f"{PYTEST} -x tests"]["evidence"]
    assert evidence["failures"][0]["test"] == "tests/test_calc.py::test_add"
    assert evidence["green"]["key"] == "tests/test_calc.py::test_add" and evidence["green"]["kind"] == "tests"
    assert [(s["path"], s["line"], s["added"]) for s in evidence["suspects"]] == [("calc.py", 2, ["    return a - b"])]
