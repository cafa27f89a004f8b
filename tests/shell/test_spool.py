"""The spool between hooks and daemons: its line format, concurrent writers, partial lines,
rotation and clean-up, restarts without duplicates, and several workspaces reading one spool."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from companion.config import Config
from companion.redact import Redactor
from companion.shell import spool
from companion.shell.tail import read_new
from companion.store import Store
from watchers.base import WatchContext
from watchers.shell_spool import ShellSpoolWatcher
from tests.shell.helpers import shell_events, wait_for_commands


def escape(value: str) -> str:
    """What the hooks do to text fields."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def command_line(cwd: Path | str, command: str, status: int = 0, start: float = 1795300000.25,
                 end: float = 1795300001.75, session: str = "s1", shell: str = "bash") -> str:
    return f"c1\t{shell}\t{session}\t{start}\t{end}\t\t{status}\t{escape(str(cwd))}\t{escape(command)}\n"


def append(text: str | bytes) -> None:
    with open(spool.spool_dir() / spool.SPOOL_NAME, "ab") as handle:
        handle.write(text.encode() if isinstance(text, str) else text)


class Collector:
    """A WatchContext whose events land in a real Store, as through the daemon's pipeline."""

    def __init__(self, workspace: Path, store: Store, ignore: list[str] | None = None) -> None:
        config = Config()
        config.shell.ignore_commands = ignore or []
        self.events: list = []
        self.errors: list[str] = []
        self.context = WatchContext(workspace=workspace, config=config, emit=self._emit, redactor=Redactor(),
                                    on_error=lambda w, m, p: self.errors.append(m), store=store)
        self.store = store

    def _emit(self, event) -> None:
        self.events.append(event)
        self.store.add_events([event])


def test_parse_line_reads_every_field():
    record = spool.parse_line(command_line("/w", "make\ttest\nall \\ done", status=2).rstrip("\n").encode())
    assert record == spool.CommandRecord(shell="bash", session="s1", command="make\ttest\nall \\ done", cwd="/w",
                                         exit_code=2, start=1795300000.25, end=1795300001.75, duration_s=1.5)
    fish = spool.parse_line(b"c1\tfish\ts\t\t1795300010\t2500\t0\t/w\tcargo build")
    assert fish.duration_s == 2.5 and fish.start == 1795300007.5 and fish.exit_code == 0
    comma = spool.parse_line(b"c1\tzsh\ts\t1795300000,5\t1795300001,0\t\t1\t/w\tx")
    assert comma.duration_s == 0.5  # bash and zsh print the locale's decimal comma
    assert spool.parse_line(b"h1\tzsh\ts9\t1795300000.1\t42") == spool.HelloRecord("zsh", "s9", 1795300000.1)
    for broken in (b"", b"c1\tbash", b"zz\t1\t2", b"c1\tbash\ts\tx\ty\t\tz\t/w\t   ", b"\xff\xfe\x00"):
        assert spool.parse_line(broken) is None


def test_flags_name_the_report_and_the_users_addopts():
    line = (b"c2\tbash\ts\t1.0\t2.0\t\t1\t/w\ts-7\tpty=1 junit=s-5 addopts=-rA\\s--junitxml=\\\\x\\sy.xml bad"
            b"\tpytest")
    record = spool.parse_line(line)
    assert record.flags == {"pty": "1", "junit": "s-5", "addopts": "-rA --junitxml=\\x y.xml"}
    assert spool.report_id(record) == "s-5"
    older = spool.parse_line(b"c2\tbash\ts\t1.0\t2.0\t\t1\t/w\ts-7\tjunit=1\tpytest")
    assert spool.report_id(older) == "s-7"  # older hooks named the report by the command's id
    assert spool.report_id(spool.parse_line(b"c2\tbash\ts\t1.0\t2.0\t\t1\t/w\ts-7\t\tpytest")) is None


def test_fish_records_without_a_time_are_stamped_when_read_and_kept_apart(workspace):
    store = Store()
    collector = Collector(workspace, store)
    watcher = ShellSpoolWatcher(collector.context)
    for n in (1, 2):  # fish where it has no clock: no start, no end, the duration only
        append(f"c2\tfish\tf1\t\t\t1500\t0\t{workspace}\tf1-{n}\t\tmake\n")
    before = time.time()
    assert watcher.poll() == 2
    events = store.events(kinds=["shell.command"])
    assert len(events) == 2 and len({e.id for e in events}) == 2  # the same command twice is two events
    assert all(before - 1.5 - 1 <= e.ts <= time.time() and e.data["duration_s"] == 1.5 for e in events)


@given(st.text(), st.text())
def test_escaped_fields_round_trip(cwd, command):
    line = command_line(cwd or "/", command or "x").rstrip("\n").encode()
    record = spool.parse_line(line)
    if (command or "x").strip():
        assert record.command == (command or "x") and record.cwd == (cwd or "/")


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_any_bytes_in_the_spool_parse_without_error(data):
    for record in spool.parse_lines(data):
        assert isinstance(record, (spool.CommandRecord, spool.HelloRecord))


def test_concurrent_shells_appending_lose_and_tear_no_line(workspace):
    """Four real bash processes append long records at once, as four terminals would."""
    target = spool.spool_dir() / spool.SPOOL_NAME
    script = ('for ((i=0;i<150;i++)); do builtin printf "%s\\n" "c1\tbash\t$1\t1.0\t2.0\t\t0\t' + str(workspace)
              + '\t$1-$i-$(printf %01500d 0)" >> "$2"; done')
    writers = [subprocess.Popen(["bash", "-c", script, "bash", f"w{n}", str(target)]) for n in range(4)]
    for writer in writers:
        assert writer.wait(60) == 0
    records = list(spool.parse_lines(target.read_bytes()))
    assert len(records) == 600
    assert {r.command.split("-")[0] for r in records} == {"w0", "w1", "w2", "w3"}
    assert all(len(r.command.split("-")[2]) == 1500 for r in records)


def test_partial_lines_wait_for_their_newline(workspace):
    store = Store()
    collector = Collector(workspace, store)
    watcher = ShellSpoolWatcher(collector.context)
    line = command_line(workspace, "pytest -x", status=1)
    append(line[:25])
    assert watcher.poll() == 0
    append(line[25:])
    assert watcher.poll() == 1
    assert [e.data["command"] for e in collector.events] == ["pytest -x"]
    assert collector.events[0].data["exit_code"] == 1 and collector.events[0].data["duration_s"] == 1.5


def test_outside_commands_and_ignored_commands_are_skipped(workspace, tmp_path):
    store = Store()
    collector = Collector(workspace, store, ignore=["^secret-tool", "[invalid"])
    watcher = ShellSpoolWatcher(collector.context)
    sibling = workspace.parent / (workspace.name + "-other")
    append(command_line(workspace / "src", "make"))
    append(command_line(sibling, "make other"))
    append(command_line("/", "ls /"))
    append(command_line(workspace, "secret-tool lookup x"))
    link = tmp_path / "link-to-ws"
    link.symlink_to(workspace)
    append(command_line(link / "src", "through a symlink"))
    watcher.poll()
    assert [(e.data["command"], e.data["dir"]) for e in collector.events] == [("make", "src"), ("through a symlink", "src")]
    assert any("[invalid" in message for message in collector.errors)


def test_restart_reads_each_line_once_and_offsets_live_in_the_store(workspace):
    store = Store()
    append(command_line(workspace, "one", start=1.0))
    first = ShellSpoolWatcher(Collector(workspace, store).context, poll_s=0.05)
    first.start()
    time.sleep(0.4)
    first.stop()
    append(command_line(workspace, "two", start=2.0))
    second_collector = Collector(workspace, store)
    second = ShellSpoolWatcher(second_collector.context)
    second.poll()
    assert [e.data["command"] for e in second_collector.events] == ["two"]
    state = store.get_state(str(workspace), spool.STATE_KEY)
    assert state["files"] and state["updated"] > 0
    assert [e["command"] for e in shell_events(store, workspace)] == ["one", "two"]


def test_a_replayed_line_is_stored_once(workspace):
    store = Store()
    append(command_line(workspace, "make"))
    for _ in range(2):  # e.g. a crash after storing the events but before saving the offset
        ShellSpoolWatcher(Collector(workspace, store).context).poll()
    assert [e["command"] for e in shell_events(store, workspace)] == ["make"]


def test_rotation_seals_the_file_and_late_lines_in_a_sealed_segment_are_still_read(workspace):
    store = Store()
    collector = Collector(workspace, store)
    watcher = ShellSpoolWatcher(collector.context, rotate_bytes=300)
    directory = spool.spool_dir()
    live = directory / spool.SPOOL_NAME
    for n in range(5):
        append(command_line(workspace, f"before-{n}", start=float(n)))
    late_writer = open(live, "ab")  # a shell that opened the file just before the rename
    watcher.poll()
    sealed = spool.files(directory)[:-1]
    assert len(sealed) == 1 and live.exists() and live.stat().st_size == 0
    assert oct(live.stat().st_mode & 0o777) == oct(0o600)
    late_writer.write(command_line(workspace, "late", start=9.0).encode())
    late_writer.close()
    append(command_line(workspace, "after", start=10.0))
    watcher.poll()
    commands = [e.data["command"] for e in collector.events]
    assert commands == [f"before-{n}" for n in range(5)] + ["late", "after"]


def test_sealed_segments_are_removed_once_every_reader_has_read_them(workspace, tmp_path):
    store = Store()
    other = tmp_path / "other-ws"
    other.mkdir()
    directory = spool.spool_dir()
    mine = ShellSpoolWatcher(Collector(workspace, store).context, rotate_bytes=100)
    theirs = ShellSpoolWatcher(Collector(other.resolve(), store).context, rotate_bytes=100)
    append(command_line(workspace, "x" * 200))
    mine.poll()
    mine._save({**mine._state(), "updated": time.time()})
    segment = spool.files(directory)[0]
    old = time.time() - spool.SETTLE_S - 5
    os.utime(segment, (old, old))
    readers = store.state_entries(spool.STATE_KEY)
    assert spool.remove_consumed(directory, readers, keep_s=86400) == [segment]  # the other reader is not active yet
    append(command_line(workspace, "y" * 200))
    mine.poll()
    theirs.poll()
    for watcher in (mine, theirs):
        watcher._save({**watcher._state(), "updated": time.time()})
    segment = spool.files(directory)[0]
    os.utime(segment, (old, old))
    append(command_line(other, "z" * 200))  # unread by both
    mine.poll()  # seals the second live file; `theirs` has not read it
    mine._save({**mine._state(), "updated": time.time()})
    newest = spool.files(directory)[-2]
    os.utime(newest, (old, old))
    removed = spool.remove_consumed(directory, store.state_entries(spool.STATE_KEY), keep_s=86400)
    assert segment in removed and newest not in removed and newest.exists()
    # a reader that never comes back holds nothing forever
    assert spool.remove_consumed(directory, store.state_entries(spool.STATE_KEY), keep_s=86400,
                                 now=time.time() + 2 * 86400) == [newest]


def test_two_workspaces_share_the_spool_with_their_own_offsets(tmp_path, daemon_factory):
    first = (tmp_path / "first").resolve()
    second = (tmp_path / "second").resolve()
    first.mkdir()
    second.mkdir()
    # Real times: each daemon prunes events older than max_age_days at start, in the shared store.
    now = time.time()
    append(command_line(first, "in first", start=now - 3))
    one = daemon_factory(first)
    append(command_line(second, "in second", start=now - 2))
    two = daemon_factory(second)
    append(command_line(first / "deep", "later in first", start=now - 1))
    assert [e["command"] for e in wait_for_commands(one.store, first, 2)] == ["in first", "later in first"]
    assert [e["command"] for e in wait_for_commands(two.store, second, 1)] == ["in second"]
    from tests.conftest import wait_for

    wait_for(lambda: set(one.store.state_entries(spool.STATE_KEY)) == {str(first), str(second)}, timeout=30)


def test_a_truncated_spool_is_read_again_from_its_start(workspace):
    store = Store()
    collector = Collector(workspace, store)
    watcher = ShellSpoolWatcher(collector.context)
    append(command_line(workspace, "a-long-first-command-" + "x" * 300, start=1.0))
    watcher.poll()
    (spool.spool_dir() / spool.SPOOL_NAME).write_text(command_line(workspace, "fresh", start=2.0))
    watcher.poll()
    assert [e.data["command"][:5] for e in collector.events] == ["a-lon", "fresh"]


def test_read_new_keeps_its_place_when_the_same_content_is_renamed_into_place(tmp_path):
    path = tmp_path / "fish_history"
    path.write_bytes(b"- cmd: one\n  when: 1\n")
    first = read_new(path, None)
    replacement = tmp_path / "tmp"
    replacement.write_bytes(b"- cmd: one\n  when: 1\n- cmd: two\n  when: 2\n")
    os.replace(replacement, path)
    second = read_new(path, first.position)
    assert not second.restarted and second.data == b"- cmd: two\n  when: 2\n"


def test_stale_bash_scratch_files_are_removed(workspace):
    directory = spool.spool_dir()
    fresh, stale = directory / ".bash-1-2-3", directory / ".bash-4-5-6"
    for path in (fresh, stale):
        path.write_bytes(b"   12  make\0")
    old = time.time() - spool.SCRATCH_MAX_AGE_S - 60
    os.utime(stale, (old, old))
    assert spool.remove_stale_scratch(directory) == [stale]
    assert fresh.exists() and (directory / spool.SPOOL_NAME).exists() is False
