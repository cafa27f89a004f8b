"""What stays on disk: spool segments only until every running daemon has read them, an empty bash
scratch file, no per-command output or report files; and bad per-command files cost only evidence."""

from __future__ import annotations

import os
import time
from pathlib import Path

from companion.shell import spool
from tests.conftest import wait_for
from tests.shell.helpers import shell_events
from tests.shell.test_spool import Collector, append, command_line
from watchers.shell_spool import ShellSpoolWatcher
from companion.store import Store

PEM = "-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\\n-----END RSA PRIVATE KEY-----"


def spool_bytes() -> bytes:
    directory = spool.spool_dir()
    return b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())


def test_commands_leave_the_spool_once_the_running_daemon_has_read_them(workspace, daemon_factory, open_shell):
    daemon = daemon_factory(workspace)
    sh = open_shell("bash", workspace)
    sh.run("echo 'marker-of-a-secret-command'")
    sh.run(f"printf '%s\\n' '{PEM}' > /dev/null")
    wait_for(lambda: len(shell_events(daemon.store, workspace)) >= 2, timeout=15)
    wait_for(lambda: b"marker-of-a-secret-command" not in spool_bytes() and b"MIIEow" not in spool_bytes(),
             timeout=spool.SETTLE_S + 20)
    scratch = [p for p in spool.spool_dir().iterdir() if p.name.startswith(spool.SCRATCH_PREFIX)]
    assert scratch and all(not p.read_bytes().strip(b" \0") for p in scratch)  # blanked once read, every prompt


def test_a_segment_waits_for_a_stopped_daemon_whose_workspace_it_holds_commands_for(tmp_path):
    directory = spool.spool_dir()
    running, stopped = (tmp_path / "running").resolve(), (tmp_path / "stopped").resolve()
    running.mkdir()
    stopped.mkdir()
    store = Store()
    watcher = ShellSpoolWatcher(Collector(running, store).context)
    append(command_line(running, "only-for-the-running-one"))
    watcher.poll()  # reads and seals the live file
    first = spool.files(directory)[0]
    append(command_line(stopped, "for-the-stopped-one"))
    watcher.poll()
    second = spool.files(directory)[1]
    now = time.time()
    old = now - spool.SETTLE_S - 5
    for path in (first, second):
        os.utime(path, (old, old))
    readers = {str(running): {**watcher._state(), "updated": now},
               str(stopped): {"files": {}, "updated": now - spool.RUNNING_S - 60}}  # ran an hour ago or so
    removed = spool.remove_consumed(directory, readers, keep_s=86400, now=now)
    assert removed == [first] and second.exists()
    # a daemon gone for longer than the keep time holds nothing
    assert spool.remove_consumed(directory, readers, keep_s=86400, now=now + 86400) == [second]


def test_per_command_files_nobody_takes_are_removed(tmp_path):
    directory = spool.spool_dir()
    for name in ("out-a-1.json", "pytest-a-1.xml", ".out-a-2.json.5.tmp"):
        (directory / name).write_text("x")
    (directory / "pytest-a-3.xml").touch()  # empty: the report file a shell keeps ready for its next pytest run
    assert spool.remove_orphans(directory) == []
    later = time.time() + spool.ORPHAN_S + 1
    assert sorted(p.name for p in spool.remove_orphans(directory, now=later)) == [
        ".out-a-2.json.5.tmp", "out-a-1.json", "pytest-a-1.xml"]
    assert [p.name for p in spool.remove_orphans(directory, now=time.time() + spool.SCRATCH_MAX_AGE_S + 1)] == [
        "pytest-a-3.xml"]  # its shell is long gone


def c2_line(workspace: Path, command: str, command_id: str, flags: str, exit_code: int = 1) -> str:
    now = time.time()
    return f"c2\tbash\ts1\t{now - 1:.3f}\t{now:.3f}\t\t{exit_code}\t{workspace}\t{command_id}\t{flags}\t{command}\n"


def test_garbage_output_and_half_written_reports_cost_only_the_evidence(workspace):
    directory = spool.spool_dir()
    store = Store()
    collector = Collector(workspace, store)
    watcher = ShellSpoolWatcher(collector.context)
    (directory / "out-s1-1.json").write_bytes(b"\xff\xfe{not json")
    (directory / "pytest-s1-1.xml").write_text("<testsuites><testsuite><testcase name='x'><failure message='cut")
    (directory / "out-s1-2.json").write_text('{"tail": 42}')
    (directory / "pytest-s1-2.xml").write_bytes(os.urandom(5000))
    (directory / "out-s1-3.json").write_text('{"tail": "' + "line\\n" * 5000 + 'end", "lines": -3, "bytes": "x"}')
    append(c2_line(workspace, "make one", "s1-1", "pty=1 junit=1"))
    append(c2_line(workspace, "make two", "s1-2", "pty=1 junit=1"))
    append(c2_line(workspace, "make three", "s1-3", "pty=1"))
    append(c2_line(workspace, "make four", "../../etc/passwd", "pty=1"))  # an id is never a path
    append(c2_line(workspace, "make five", "s1-5", "pane=%1 tmux=/nonexistent/socket"))
    watcher.poll()
    events = {e.data["command"]: dict(e.data) for e in collector.events}
    assert sorted(events) == ["make five", "make four", "make one", "make three", "make two"]
    for name in ("make one", "make two", "make four", "make five"):
        assert "evidence" not in events[name]
    output = events["make three"]["evidence"]["output"]
    assert output["truncated"] is True and len(output["tail"].split("\n")) == 200 and output["tail"].endswith("end")
    assert output["lines"] >= 0 and isinstance(output["bytes"], int)
    assert [p.name for p in directory.iterdir() if p.name.startswith(("out-", "pytest-"))] == []


def test_a_report_is_read_from_the_file_its_record_names_and_a_ready_one_is_left_alone(workspace):
    directory = spool.spool_dir()
    collector = Collector(workspace, Store())
    watcher = ShellSpoolWatcher(collector.context)
    case = ("<testsuite><testcase classname='tests.test_a' name='test_x' file='tests/test_a.py' line='3'>"
            "<failure message='assert 1 == 2'>tests/test_a.py:5: AssertionError</failure></testcase></testsuite>")
    (directory / "pytest-s1-1.xml").write_text(case)  # written by the pytest run of command s1-2
    (directory / "pytest-s1-3.xml").touch()  # made ready at s1-3, not written yet
    append(c2_line(workspace, "pytest", "s1-2", "junit=s1-1"))
    append(c2_line(workspace, "ls", "s1-3", ""))
    append(c2_line(workspace, "rm -rf /", "s1-4", "junit=../../x"))  # a report id is never a path
    watcher.poll()
    events = {e.data["command"]: dict(e.data) for e in collector.events}
    failure = events["pytest"]["evidence"]["failures"][0]
    assert (failure["test"], failure["path"], failure["line"]) == ("tests/test_a.py::test_x", "tests/test_a.py", 5)
    assert "evidence" not in events["ls"] and "evidence" not in events["rm -rf /"]
    assert sorted(p.name for p in directory.glob("pytest-*")) == ["pytest-s1-3.xml"]


def test_commands_for_a_stopped_daemon_wait_in_the_live_file_not_in_a_segment_per_read(tmp_path):
    directory = spool.spool_dir()
    running, stopped = (tmp_path / "running").resolve(), (tmp_path / "stopped").resolve()
    running.mkdir()
    stopped.mkdir()
    store = Store()
    store.set_state(str(stopped), spool.STATE_KEY, {"files": {}, "updated": time.time() - spool.RUNNING_S - 60})
    watcher = ShellSpoolWatcher(Collector(running, store).context)
    for n in range(3):
        append(command_line(stopped, f"waits-for-its-daemon-{n}"))
        watcher.poll()
    assert len(spool.files(directory)) == 1  # still the live file alone
    assert spool.files(directory)[0].read_bytes().count(b"waits-for-its-daemon") == 3
    # once that daemon runs again and reads it, the next read seals it
    store.set_state(str(stopped), spool.STATE_KEY, {"files": {}, "updated": time.time()})
    append(command_line(running, "mine"))
    watcher.poll()
    assert len(spool.files(directory)) == 2
