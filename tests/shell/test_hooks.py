"""The hooks in real interactive bash, zsh and fish, typed into through a terminal: what reaches
the store with the daemon up (live) and down (spool, then ingested at start)."""

from __future__ import annotations

import re
import sqlite3
import sys

import pytest

from companion.cli.shell_init import hook_script
from companion.daemon import Daemon
from companion.shell import spool
from tests.conftest import wait_for
from tests.shell.conftest import SHELLS
from tests.shell.helpers import by_command, shell_events, spool_records, wait_for_commands

OFF = {"bash": ("export COMPANION_SHELL_OFF=1", "unset COMPANION_SHELL_OFF"),
       "zsh": ("export COMPANION_SHELL_OFF=1", "unset COMPANION_SHELL_OFF"),
       "fish": ("set -gx COMPANION_SHELL_OFF 1", "set -e COMPANION_SHELL_OFF")}
FAIL3 = "sh -c 'exit 3'"


@pytest.mark.parametrize("shell", SHELLS)
def test_live_commands_reach_the_store_with_exit_codes_durations_and_folders(shell, workspace, daemon_factory, open_shell, tmp_path):
    daemon = daemon_factory(workspace)
    (workspace / "api").mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    sh = open_shell(shell, workspace)
    sh.run("true")
    sh.run("false")
    sh.run("sleep 0.4")
    sh.run("cd api")
    sh.run(FAIL3)
    sh.run(" echo typed-with-a-leading-space")
    sh.run(f"cd {outside}")
    sh.run("echo ran-outside-the-workspace")
    sh.run(f"cd {workspace}")
    sh.run(OFF[shell][0])
    sh.run("echo while-recording-is-off")
    sh.run(OFF[shell][1])
    sh.run("echo back-on")

    wait_for(lambda: "echo back-on" in by_command(shell_events(daemon.store, workspace)), timeout=15)
    events = by_command(shell_events(daemon.store, workspace))
    assert len(events) == 8
    assert events["true"]["exit_code"] == 0
    assert events["false"]["exit_code"] == 1
    assert events["sleep 0.4"]["exit_code"] == 0
    assert events["sleep 0.4"]["duration_s"] >= 0.35
    assert events["true"]["duration_s"] < events["sleep 0.4"]["duration_s"]
    assert events[FAIL3]["exit_code"] == 3
    assert events[FAIL3]["dir"] == "api"
    assert events[f"cd {outside}"]["dir"] == "api"  # a command belongs to the folder it was typed in
    assert f"cd {workspace}" not in events
    assert events["true"]["dir"] == "."
    assert events["true"]["cwd"] == str(workspace)
    assert events["echo back-on"]["exit_code"] == 0
    for event in events.values():
        assert event["shell"] == shell and event["origin"] == "hook" and event["session"]
    assert len({e["session"] for e in events.values()}) == 1
    commands = set(events)
    assert not any("leading-space" in c or "ran-outside" in c or "while-recording-is-off" in c for c in commands)
    # the command outside the workspace was recorded by the hook, and skipped by this workspace's daemon
    # (the spool keeps commands only until read, so the skip is seen in the reader's count)
    spool_watcher = next(w for w in daemon.watchers if w.name == "shell_spool")
    assert spool_watcher.skipped_outside >= 1
    assert not any("leading-space" in r.command or "while-recording-is-off" in r.command for r in spool_records())
    times = [e["ts"] for e in shell_events(daemon.store, workspace)]
    assert times == sorted(times)
    daemon.pipeline.flush()
    assert not daemon.store.events(kinds=["shell.command"], workspace=str(workspace), sources=["file"])
    history = [e for e in shell_events(daemon.store, workspace) if e["origin"] == "history"]
    assert history == []  # the history file is not read for a shell that has the hook


@pytest.mark.parametrize("shell", SHELLS)
def test_commands_typed_while_the_daemon_is_down_are_ingested_when_it_starts(shell, workspace, open_shell, companion_home):
    sh = open_shell(shell, workspace)
    sh.run("echo typed-offline")
    sh.run("ls /definitely/not/here")
    sh.close()
    assert {r.command for r in spool_records()} >= {"echo typed-offline", "ls /definitely/not/here"}
    assert (companion_home / "data" / "spool").stat().st_mode & 0o777 == 0o700

    daemon = Daemon(workspace)
    daemon.start()
    try:
        events = by_command(wait_for_commands(daemon.store, workspace, 2))
        assert events["echo typed-offline"]["exit_code"] == 0
        assert events["ls /definitely/not/here"]["exit_code"] == 2
    finally:
        daemon.stop()
    # a second start reads nothing twice
    again = Daemon(workspace)
    again.start()
    try:
        again.pipeline.flush()
        wait_for(lambda: again.store.get_state(str(workspace), "shell.spool"), timeout=5)
        import time
        time.sleep(0.6)
        again.pipeline.flush()
        assert len(shell_events(again.store, workspace)) == 2
    finally:
        again.stop()


SECRETS = {
    "aws": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "bearer": "abcDEF123ghiJKL456mnoPQR",
    "mysql": "Sup3rSecretPw",
    "url": "hunter2pass",
}


@pytest.mark.parametrize("shell", SHELLS)
def test_secrets_in_commands_are_redacted_in_the_store(shell, workspace, daemon_factory, open_shell):
    daemon = daemon_factory(workspace)
    sh = open_shell(shell, workspace)
    export = (f"set -gx AWS_SECRET_ACCESS_KEY {SECRETS['aws']}" if shell == "fish"
              else f"export AWS_SECRET_ACCESS_KEY={SECRETS['aws']}")
    lines = [export,
             f'curl -s -m 2 -H "Authorization: Bearer {SECRETS["bearer"]}" http://127.0.0.1:9/',
             f"mysql -p{SECRETS['mysql']} -h 127.0.0.1 shop",
             f"curl -s -m 2 https://deploy:{SECRETS['url']}@127.0.0.1:9/repo.git"]
    for line in lines:
        sh.run(line)
    events = wait_for_commands(daemon.store, workspace, 4)
    commands = [e["command"] for e in events]
    assert len(commands) == 4 and all("[REDACTED" in c for c in commands), commands
    assert any(c.startswith("curl") and "Authorization: Bearer [REDACTED" in c for c in commands)
    daemon.pipeline.flush()
    with sqlite3.connect(daemon.store.path) as db:
        everything = "\n".join(str(row) for table in ("events", "state")
                               for row in db.execute(f"SELECT * FROM {table}"))
    for secret in SECRETS.values():
        assert secret not in everything


@pytest.mark.parametrize("shell", SHELLS)
def test_ignore_commands_from_the_config_are_not_stored(shell, workspace, daemon_factory, open_shell):
    (workspace / ".companion.toml").write_text('[shell]\nignore_commands = ["^pass ", "vault"]\n')
    daemon = daemon_factory(workspace)
    sh = open_shell(shell, workspace)
    sh.run("pass show mail")
    sh.run("echo vault-token")
    sh.run("echo kept")
    events = wait_for_commands(daemon.store, workspace, 1)
    import time
    time.sleep(0.6)
    assert [e["command"] for e in shell_events(daemon.store, workspace)] == ["echo kept"]


def test_bash_hook_keeps_the_users_prompt_command_and_debug_trap(workspace, open_shell, tmp_path):
    marker = tmp_path / "prompt-command-ran"
    trap_log = tmp_path / "trap-ran"
    before = (f"PROMPT_COMMAND='echo x >> {marker}'\n"
              f"trap 'echo t >> {trap_log}' DEBUG\n")
    sh = open_shell("bash", workspace, before=before)
    sh.run("echo one")
    sh.run("echo one")  # a repeat that ignoredups keeps out of history is still a command run
    sh.run(" echo hidden")
    sh.run("echo two")
    sh.close()
    assert marker.read_text().count("x") >= 4
    assert trap_log.exists()
    commands = [r.command for r in spool_records()]
    assert commands == ["echo one", "echo one", "echo two"]
    assert not any(f"echo x >> {marker}" in c for c in commands)


def test_bash_hook_loaded_through_the_real_cli_with_prompt_command_added_after_it(workspace, open_shell):
    rc = (f"HISTCONTROL=ignorespace\neval \"$('{sys.executable}' -m companion shell-init bash)\"\n"
          "PROMPT_COMMAND+=$'\\n''__user_after=1'\n")
    sh = open_shell("bash", workspace, rc=rc)
    sh.run("sleep 0.3")
    sh.run("echo done")
    sh.close()
    records = {r.command: r for r in spool_records()}
    assert set(records) == {"sleep 0.3", "echo done"}
    # the duration is the command's own, not the time the prompt waited for typing
    assert 0.25 <= records["sleep 0.3"].duration_s < 5


@pytest.mark.parametrize("shell", SHELLS)
def test_multiline_commands_and_special_characters_survive_the_spool(shell, workspace, open_shell):
    sh = open_shell(shell, workspace)
    sh.run("echo 'first line\nsecond \\ line'")
    sh.run("echo 'tab\there' # ünïcödé")
    sh.close()
    commands = [r.command for r in spool_records()]
    assert "echo 'first line\nsecond \\ line'" in commands
    assert any(c.startswith("echo 'tab") and c.endswith("# ünïcödé") for c in commands)
    live = spool.spool_dir() / spool.SPOOL_NAME
    assert live.stat().st_mode & 0o777 == 0o600  # the shell's umask (022 here) does not make it readable


@pytest.mark.parametrize("shell", SHELLS)
def test_the_hook_stays_silent_when_the_spool_cannot_be_written(shell, workspace, open_shell, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the data folder should be")
    sh = open_shell(shell, workspace, env={"COMPANION_HOME": str(blocked)})
    output = sh.run("echo still-works") + sh.run("false")
    lines = [line.strip() for line in output.replace("\r", "").splitlines() if line.strip()]
    assert "still-works" in lines
    assert not any(word in output.lower() for word in ("companion", "denied", "not a directory", "no such", "mkdir"))


# The interface bash-preexec documents (its arrays, its import flag, $? kept for precmd functions),
# reduced to a few lines: the real library is not packaged for Debian or PyPI, so this checks that
# the hook joins such a framework instead of replacing its DEBUG trap.
PREEXEC_FRAMEWORK = r"""
bash_preexec_imported=defined
preexec_functions=() precmd_functions=() __fw_armed= __fw_trap_calls=0
__fw_status() { return "$1"; }
__fw_preexec() {
    (( __fw_trap_calls += 1 ))
    [[ -n $__fw_armed ]] || return 0
    __fw_armed=
    local f; for f in "${preexec_functions[@]}"; do "$f" "$BASH_COMMAND"; done
}
__fw_precmd() {
    local s=$? f
    for f in "${precmd_functions[@]}"; do __fw_status "$s"; "$f"; done
}
trap '__fw_preexec' DEBUG
PROMPT_COMMAND=$'__fw_precmd\n__fw_armed=1'
"""


def test_bash_hook_joins_a_preexec_framework_instead_of_taking_its_trap(workspace, open_shell):
    sh = open_shell("bash", workspace, before=PREEXEC_FRAMEWORK)
    sh.run("sleep 0.3")
    sh.run("false")
    sh.run(" echo hidden")
    trap = sh.run("trap -p DEBUG")
    calls = sh.run("echo calls=$__fw_trap_calls")
    sh.close()
    assert "__fw_preexec" in trap and "__companion" not in trap
    assert int(re.search(r"calls=(\d+)", calls).group(1)) > 0
    records = {r.command: r for r in spool_records()}
    assert "echo hidden" not in records and " echo hidden" not in records
    assert records["false"].exit_code == 1
    assert records["sleep 0.3"].exit_code == 0 and records["sleep 0.3"].duration_s >= 0.25


def test_bash_leading_space_is_skipped_even_when_history_keeps_it(workspace, open_shell):
    """Without `ignorespace` bash stores ` cmd` in history with its space; the hook still skips it."""
    sh = open_shell("bash", workspace, rc="HISTCONTROL=\n" + hook_script("bash"))
    sh.run("echo visible")
    sh.run(" echo hidden-but-in-history")
    sh.run("echo after")
    sh.close()
    assert [r.command for r in spool_records()] == ["echo visible", "echo after"]


def raw_run(sh, line: str) -> bytes:
    """Type a line; the raw bytes the shell printed up to its next prompt, escape sequences included."""
    import os
    sh.raw_seen = b""
    os.write(sh.fd, line.encode() + b"\r")
    sh.wait_prompt()
    return sh.raw_seen


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("terminal, code", [({"TERM": "xterm-256color"}, b"133"),
                                            ({"TERM": "xterm-256color", "TERM_PROGRAM": "vscode"}, b"633"),
                                            ({"TERM": "xterm-256color", "TERM_PROGRAM": "vscode",
                                              "VSCODE_SHELL_INTEGRATION": "1"}, None),
                                            ({"TERM": "dumb"}, None)])
def test_semantic_marks_frame_prompts_and_commands(shell, terminal, code, workspace, open_shell):
    sh = open_shell(shell, workspace, env=terminal)
    sh.run("true")
    raw = raw_run(sh, "sh -c 'echo x-$((6*7)); exit 4'")
    if code is None:
        assert b"\x1b]133;" not in raw and b"\x1b]633;" not in raw
        return
    start, end = b"\x1b]" + code + b";C\x07", b"\x1b]" + code + b";D;4\x07"
    assert start in raw and end in raw and raw.index(start) < raw.index(b"x-42") < raw.index(end)
    assert b"cid=" not in raw  # the command's id only goes to companion shell
    if shell != "fish":  # the test's fish prompt is defined after the hook, so the hook cannot wrap it
        assert raw.index(end) < raw.rindex(b"\x1b]" + code + b";A\x07") < raw.rindex(b"\x1b]" + code + b";B\x07")


@pytest.mark.parametrize("shell", SHELLS)
def test_in_a_vscode_terminal_reported_by_the_extension_the_hook_stands_aside(shell, workspace, open_shell):
    sh = open_shell(shell, workspace, env={"COMPANION_TERMINAL": "vscode", "TERM_PROGRAM": "vscode"})
    sh.run("echo reported-by-the-extension")
    assert "junitxml" not in sh.run("echo $PYTEST_ADDOPTS")
    assert not [r for r in spool_records() if "reported-by-the-extension" in r.command]
