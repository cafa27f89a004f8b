"""History files: the three parsers (examples and any-bytes properties) and the tailing watcher."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.config import Config
from companion.redact import Redactor
from companion.shell import spool
from companion.shell.history import HistoryEntry, guess_shell, parse_bash, parse_fish, parse_zsh, unmetafy
from companion.store import Store
from watchers.base import WatchContext
from watchers.shell_history import ShellHistoryWatcher, create


def commands(entries: list[HistoryEntry]) -> list[str]:
    return [e.command for e in entries]


# -- parsers: examples ----------------------------------------------------------------------------
def test_bash_history_without_timestamps():
    entries, consumed = parse_bash(b"ls -la\ngit status\n\n  make test\npartial")
    assert commands(entries) == ["ls -la", "git status", "  make test"]
    assert all(e.ts is None for e in entries)
    assert consumed == len(b"ls -la\ngit status\n\n  make test\n")


def test_bash_history_with_timestamps_and_multiline_commands():
    data = b"old\n#1700000000\nfor f in *; do\n  echo $f\ndone\n#1700000010\ngit push\n#1700000020\n"
    entries, consumed = parse_bash(data)
    assert commands(entries) == ["old", "for f in *; do\n  echo $f\ndone", "git push"]
    assert [e.ts for e in entries] == [None, 1700000000.0, 1700000010.0]
    assert consumed == data.index(b"#1700000020")  # the last timestamp waits for its command
    assert data[entries[2].offset:].startswith(b"#1700000010")


def test_zsh_extended_history_with_continuations_and_metafied_bytes():
    metafied = b"echo \xc4\x83\xa3"  # "ă" is c4 83: zsh writes 0x83 as Meta, then 0x83 ^ 0x20
    data = (b": 1700000000:12;make \\\n  all\n: 1700000020:0;" + metafied + b"\nplain old line\n"
            b": 1700000030:1;unfinished \\\n")
    entries, consumed = parse_zsh(data)
    assert commands(entries) == ["make \n  all", "echo ă", "plain old line"]
    assert [(e.ts, e.duration_s) for e in entries] == [(1700000000.0, 12.0), (1700000020.0, 0.0), (None, None)]
    assert consumed == data.index(b": 1700000030")
    assert unmetafy(b"a\x83\xa3b") == b"a\x83b"


def test_fish_history_items():
    data = (b"- cmd: echo first\\nsecond \\\\ end\n  when: 1700000000\n  paths:\n    - src/app.py\n"
            b"- cmd: cargo test\n  when: 1700000050\n- cmd: broken-when\n  when: soon\n")
    entries, consumed = parse_fish(data)
    assert commands(entries) == ["echo first\nsecond \\ end", "cargo test", "broken-when"]
    assert [e.ts for e in entries] == [1700000000.0, 1700000050.0, None]
    assert consumed == len(data)


def test_invalid_utf8_never_stops_a_parser():
    for parser in (parse_bash, parse_zsh, parse_fish):
        prefix = b"- cmd: " if parser is parse_fish else b": 1700000000:0;" if parser is parse_zsh else b""
        entries, _ = parser(prefix + b"caf\xe9 \xff\xfe\n" + prefix + b"next\n")
        assert len(entries) == 2 and entries[1].command == "next" and "\ufffd" in entries[0].command


def test_guess_shell():
    assert guess_shell(".zsh_history") == "zsh" and guess_shell("fish_history") == "fish"
    assert guess_shell("myhist", b": 1700000000:0;ls") == "zsh"
    assert guess_shell("myhist", b"- cmd: ls") == "fish" and guess_shell("myhist", b"ls") == "bash"


# -- parsers: properties --------------------------------------------------------------------------
@settings(max_examples=300)
@given(st.binary(max_size=800))
@pytest.mark.parametrize("parser", [parse_bash, parse_zsh, parse_fish])
def test_any_bytes_parse_without_exception(parser, data):
    entries, consumed = parser(data)
    assert 0 <= consumed <= len(data)
    for entry in entries:
        assert isinstance(entry.command, str) and entry.command.strip()
        assert 0 <= entry.offset < len(data)


HISTORY_LINES = st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b and b.strip()), max_size=10)


@given(HISTORY_LINES, st.binary(max_size=40))
def test_feeding_a_file_in_two_parts_loses_no_complete_entry(lines, tail):
    """What a tailer sees: the consumed bytes of the first read, then the rest."""
    data = b"".join(b": 1700000000:0;" + line.replace(b"\\", b"/") + b"\n" for line in lines) + tail.replace(b"\n", b"")
    whole, _ = parse_zsh(data)
    cut = len(data) // 2
    first, consumed = parse_zsh(data[:cut])
    second, _ = parse_zsh(data[consumed:])
    assert commands(first) + commands(second) == commands(whole)


@given(st.binary(max_size=300))
def test_unmetafy_never_grows_and_is_identity_without_meta(data):
    out = unmetafy(data)
    assert len(out) <= len(data)
    if 0x83 not in data:
        assert out == data


# -- the watcher ----------------------------------------------------------------------------------
class Collected:
    def __init__(self, workspace: Path, files: list[Path], store: Store | None = None) -> None:
        self.store = store or Store()
        self.events: list = []
        config = Config()
        config.shell.history_files = [str(f) for f in files]
        self.context = WatchContext(workspace=workspace, config=config, emit=self.events.append,
                                    redactor=Redactor(), store=self.store)

    def watcher(self) -> ShellHistoryWatcher:
        return ShellHistoryWatcher(self.context, poll_s=0.05)

    def commands(self) -> list[str]:
        return [e.data["command"] for e in self.events]


def poll(watcher: ShellHistoryWatcher) -> None:
    for item in watcher.files:
        watcher.poll_file(item)


def test_history_is_followed_from_where_it_was_when_first_seen(workspace, tmp_path):
    history = tmp_path / ".bash_history"
    history.write_bytes(b"old command\n" * 1000)
    collected = Collected(workspace, [history])
    watcher = collected.watcher()
    poll(watcher)
    with history.open("ab") as handle:
        handle.write(b"#1795300000\ngit status\n#1795300009\npytest -x\n")
    poll(watcher)
    assert collected.commands() == ["git status", "pytest -x"]
    event = collected.events[1]
    assert event.ts == 1795300009.0 and event.source == "shell" and event.kind == "shell.command"
    assert event.data["exit_code"] is None and event.data["cwd"] is None and event.data["origin"] == "history"
    assert event.data["shell"] == "bash"


def test_only_the_new_part_of_a_large_file_is_read_after_a_restart(workspace, tmp_path):
    """A 200 MB (sparse) history: reading it from the start would take many polls of 4 MB each."""
    history = tmp_path / "fish_history"
    with history.open("wb") as handle:
        handle.truncate(200_000_000)
        handle.seek(0, os.SEEK_END)
        handle.write(b"\n- cmd: old\n  when: 1700000000\n")
    store = Store()
    first = Collected(workspace, [history], store)
    poll(first.watcher())
    with history.open("ab") as handle:
        handle.write(b"- cmd: new while down\n  when: 1795300000\n")
    second = Collected(workspace, [history], store)
    watcher = second.watcher()
    poll(watcher)
    assert second.commands() == ["new while down"]
    assert watcher.files[0].position.offset == history.stat().st_size


def test_truncation_rotation_and_rewrites(workspace, tmp_path):
    history = tmp_path / ".zsh_history"
    history.write_bytes(b": 1795300000:0;first\n")
    collected = Collected(workspace, [history])
    watcher = collected.watcher()
    poll(watcher)
    with history.open("ab") as handle:
        handle.write(b": 1795300001:0;second\n: 1795300002:0;third\n")
    poll(watcher)
    # zsh rewrites the file (HISTSIZE trimming): the same tail plus one new entry, through a rename
    rewritten = tmp_path / "new"
    rewritten.write_bytes(b": 1795300001:0;second\n: 1795300002:0;third\n: 1795300003:4;fourth\n")
    os.replace(rewritten, history)
    poll(watcher)
    # rotated away and started afresh
    os.rename(history, tmp_path / "old")
    history.write_bytes(b": 1795300010:0;after rotation\n")
    poll(watcher)
    # truncated in place, then written again
    history.write_bytes(b"")
    poll(watcher)
    history.write_bytes(b": 1795300020:0;after truncation\n")
    poll(watcher)
    assert collected.commands() == ["second", "third", "fourth", "after rotation", "after truncation"]
    assert collected.events[2].data["duration_s"] == 4.0


def test_a_rewritten_bash_history_without_timestamps_resyncs_on_the_last_entries(workspace, tmp_path):
    history = tmp_path / ".bash_history"
    history.write_bytes(b"a\nb\n")
    collected = Collected(workspace, [history])
    watcher = collected.watcher()
    poll(watcher)
    with history.open("ab") as handle:
        handle.write(b"c\nd\n")
    poll(watcher)
    history.write_bytes(b"c\nd\ne\nf\n")  # bash trimmed the file to HISTFILESIZE at exit
    poll(watcher)
    assert collected.commands() == ["c", "d", "e", "f"]


def test_leading_space_ignored_commands_and_hooked_shells_are_skipped(workspace, tmp_path):
    history = tmp_path / ".bash_history"
    history.write_bytes(b"")
    collected = Collected(workspace, [history])
    collected.context.config.shell.ignore_commands = ["^pass "]
    watcher = collected.watcher()
    poll(watcher)
    with history.open("ab") as handle:
        handle.write(b" secret thing\npass show x\nkept\n")
    poll(watcher)
    assert collected.commands() == ["kept"]
    collected.store.set_state("", spool.HOOK_SEEN_KEY, {"bash": time.time() - 100})
    with history.open("ab") as handle:
        handle.write(b"#" + str(int(time.time())).encode() + b"\nvia the hook too\nno timestamp either\n")
    poll(watcher)
    assert collected.commands() == ["kept"]


def test_history_watcher_is_off_when_disabled_and_runs_in_the_daemon(workspace, tmp_path, daemon_factory, companion_home):
    config = Config()
    config.shell.history = False
    context = WatchContext(workspace=workspace, config=config, emit=lambda e: None, redactor=Redactor())
    assert create(context) is None
    home = Path(os.environ["HOME"])
    (home / ".bash_history").write_bytes(b"before\n")
    daemon = daemon_factory(workspace)
    assert "shell_history" in [w.name for w in daemon.watchers]
    time.sleep(1.3)
    with (home / ".bash_history").open("ab") as handle:
        handle.write(b"make deploy\n")
    from tests.conftest import wait_for

    wait_for(lambda: [e for e in daemon.store.events(kinds=["shell.command"], workspace=str(workspace))], timeout=10)
    (event,) = daemon.store.events(kinds=["shell.command"], workspace=str(workspace))
    assert event.data["command"] == "make deploy" and event.data["origin"] == "history"


HISTORY_RC = {
    "bash": "HISTFILE=~/.bash_history\nHISTTIMEFORMAT='%F %T '\nPROMPT_COMMAND='history -a'\n",
    "zsh": "HISTFILE=~/.zsh_history\nSAVEHIST=100\nHISTSIZE=100\nsetopt inc_append_history extended_history\n",
    "fish": "",
}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_real_shells_history_files_without_the_hook(shell, workspace, daemon_factory, open_shell):
    from tests.conftest import wait_for

    daemon = daemon_factory(workspace)
    time.sleep(1.2)  # the watcher has seen that no history file exists yet
    sh = open_shell(shell, workspace, rc=HISTORY_RC[shell])
    sh.run("echo from-history")
    sh.run("false")
    sh.run("echo 'two\nlines'")

    def found() -> list[str]:
        return [e.data["command"] for e in daemon.store.events(kinds=["shell.command"], workspace=str(workspace))]

    wait_for(lambda: len(found()) >= 3, timeout=15)
    assert found()[:3] == ["echo from-history", "false", "echo 'two\nlines'"]
    events = daemon.store.events(kinds=["shell.command"], workspace=str(workspace))
    assert all(e.data["origin"] == "history" and e.data["exit_code"] is None for e in events)
    assert all(abs(e.ts - time.time()) < 120 for e in events)  # each of these files carries timestamps


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_a_hooked_shell_writing_its_history_at_once_is_not_counted_twice(shell, workspace, daemon_factory, open_shell):
    from companion.cli.shell_init import hook_script
    from tests.conftest import wait_for

    daemon = daemon_factory(workspace)
    time.sleep(1.2)  # the history watcher has looked at the (missing) files
    sh = open_shell(shell, workspace, rc=HISTORY_RC[shell] + hook_script(shell))
    sh.run("echo once")
    sh.run("false")
    history_file = {"bash": ".bash_history", "zsh": ".zsh_history", "fish": ".local/share/fish/fish_history"}[shell]
    wait_for(lambda: b"false" in (Path(os.environ["HOME"]) / history_file).read_bytes(), timeout=10)
    time.sleep(2.5)  # several polls of the history watcher after the history file has the commands
    daemon.pipeline.flush()
    events = daemon.store.events(kinds=["shell.command"], workspace=str(workspace))
    assert sorted(e.data["command"] for e in events) == ["echo once", "false"]
    assert {e.data["origin"] for e in events} == {"hook"}
