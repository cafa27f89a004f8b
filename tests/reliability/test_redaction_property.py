"""Property: no secret survives in the store, whatever form it is typed in and wherever it stands.

Secrets come from a corpus (provider tokens, everyday passwords) and from generated variants
(random provider-shaped tokens of any length, random passwords with spaces, quotes and symbols);
each is typed the way people type it (`mysql -p'..'`, `PGPASSWORD=..`, `export X='a b'`,
`curl -u bob:..`, `Authorization: Bearer ..`, `postgresql://app:..@db`...) and put into a field
of an event kind: a saved file's hunk headers and TODOs (built by the file watcher's own
`summarize`), a commit summary (also read by the git watcher's reader from a real commit), a
stash or merge message, a shell command with its captured output tail and failures (the evidence
contract, built by `companion.evidence` from a terminal's bytes), a test failure, an editor
event's path. The
events go through a real Pipeline into a real SQLite store; what the database holds is read back
raw. No 6-character piece of the secret as typed may be there (so a key cut into two markers,
or a password half redacted, fails too).
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import sqlite3
import string
import subprocess
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from companion.events import Event
from companion.evidence.failures import failures_evidence, parse_short_summary
from companion.evidence.output import output_evidence
from companion.pipeline import Pipeline
from companion.redact import Redactor
from companion.store import Store
from watchers.changes import summarize

WORKSPACE = "/home/dev/work/shop"
MARKER = re.compile(r"\[REDACTED:[a-z0-9-]+\]")

# -- secrets ----------------------------------------------------------------------------------
ALNUM = string.ascii_letters + string.digits
TOKEN_CORPUS = [
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    "glpat-9sL2kX7vQp4mZ1rT8wYb",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "sk_live_4eC39HqLyjWDarjtT1zdp7dcAbCdEfGhIjKlMnOpQrStUvWx0123456789",
    "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD",
    "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "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",
    "Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZkdISUpLTA9x9Qz",
]
PASSWORD_CORPUS = ["S3cretPa55word", "hunter2", "correct horse battery staple", "letmein99", "p@ss:w0rd!",
                   "changeme", "Tr0ub4dor&3", "pässwörd-ünïcødé", "it's a secret", 'say "open"', "a$b`c\\d"]


def _body(alphabet: str, low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=low, max_size=high)


generated_tokens = st.one_of(
    _body(ALNUM, 36, 60).map(lambda b: "ghp_" + b),
    _body(ALNUM, 24, 99).map(lambda b: "sk_live_" + b),  # longer than detect-secrets' 24: one marker still
    _body(string.ascii_uppercase + string.digits, 16, 16).map(lambda b: "AKIA" + b),
    st.tuples(_body(string.digits, 10, 13), _body(string.digits, 10, 13), _body(ALNUM.lower(), 24, 32)).map(
        lambda p: f"xoxb-{p[0]}-{p[1]}-{p[2]}"),
    _body(ALNUM + "_-", 20, 50).map(lambda b: "glpat-" + b),
    _body(ALNUM + "-_", 35, 35).map(lambda b: "AIza" + b),
    _body(ALNUM, 40, 64).map(lambda b: "sk-proj-" + b),
    st.tuples(_body(ALNUM, 8, 30), _body(ALNUM + "-_", 20, 43)).map(
        lambda p: "eyJhbGciOiJIUzI1NiJ9." + base64.urlsafe_b64encode(json.dumps({"sub": p[0]}).encode()).decode().rstrip("=")
        + "." + p[1]),
)
tokens = st.one_of(st.sampled_from(TOKEN_CORPUS), generated_tokens)
# everyday passwords, not random at all: letters, digits, spaces, quotes, shell symbols, unicode
passwords = st.one_of(
    st.sampled_from(PASSWORD_CORPUS),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters="\t"),
            min_size=6, max_size=24).filter(lambda s: s.strip() == s and sum(c.isalnum() for c in s) >= 4),
)
secrets = st.one_of(tokens, passwords)
secret_names = st.one_of(
    st.sampled_from(["PGPASSWORD", "MYSQL_PWD", "DB_PASSWORD", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "STRIPE_KEY",
                     "API_KEY", "NPM_TOKEN", "SECRET_KEY_BASE", "REDIS_PASS", "CLIENT_SECRET"]),
    st.tuples(st.from_regex(r"[A-Z][A-Z0-9]{0,8}", fullmatch=True),
              st.sampled_from(["PASSWORD", "TOKEN", "SECRET", "KEY", "PASS", "PWD", "API_KEY", "AUTH_TOKEN"])).map("_".join),
)


def _double_quoted(value: str) -> str:
    return '"' + "".join("\\" + c if c in '"\\$`' else c for c in value) + '"'


def _shell_word(value: str, style: int) -> str:
    """The value as a user types it in a shell: bare when it can be, else quoted one way or another."""
    if style == 0 and all(c.isalnum() or c in "@%+=:,./_^~" for c in value) and not value.startswith(("~", "-")):
        return value
    if style == 1 and "'" not in value:
        return f"'{value}'"
    if style == 2:
        return _double_quoted(value)
    return shlex.quote(value)


# carriers: how the secret is typed; each returns (text, the secret as it appears in the text)
Carrier = Callable[[str, str, int], tuple[str, str]]


def _word_form(template: str) -> Carrier:
    def build(value: str, name: str, style: int) -> tuple[str, str]:
        typed = _shell_word(value, style)
        return template.format(v=typed, name=name), typed
    return build


def _url_form(template: str) -> Carrier:
    def build(value: str, name: str, style: int) -> tuple[str, str]:
        typed = quote(value, safe="")
        return template.format(u=typed), typed
    return build


def _header_form(template: str) -> Carrier:
    def build(value: str, name: str, style: int) -> tuple[str, str]:
        typed = value if all(c in ALNUM + "._~+/-=" for c in value) else base64.b64encode(value.encode()).decode()
        return template.format(t=typed), typed
    return build


def _json_form(value: str, name: str, style: int) -> tuple[str, str]:
    typed = json.dumps(value, ensure_ascii=False)
    return '{"user": "app", "%s": %s, "host": "db"}' % (("password", "token", "api_key", "secret")[style % 4], typed), typed


def _libpq_form(value: str, name: str, style: int) -> tuple[str, str]:
    safe = "".join(c for c in value if c not in "'\"\\$` ") or "x9y8z7"
    typed = safe if style % 2 else f"'{safe}'"
    return f"psql \"host=db port=5432 user=app password={typed} dbname=shop\"", typed


CARRIERS: list[Carrier] = [
    _word_form("mysql -u root -p{v} shop"),
    _word_form("mariadb -h db --password={v} shop"),
    _word_form("docker exec db mysqldump -uroot -p{v} shop > dump.sql"),
    _word_form("PGPASSWORD={v} psql -h db -U app shop"),
    _word_form("MYSQL_PWD={v} mysql -u root shop"),
    _word_form("export {name}={v}"),
    _word_form("{name}={v} ./deploy.sh --verbose"),
    _word_form("env {name}={v} make release"),
    _word_form("docker run --rm -e {name}={v} shop:latest"),
    _word_form("set -gx {name} {v}"),
    _word_form("sshpass -p {v} ssh deploy@web1"),
    _word_form("curl -u bob:{v} https://api.example.com/v1/orders"),
    _word_form("curl --password={v} https://api.example.com"),
    _word_form("curl --token {v} https://api.example.com"),
    _word_form("redis-cli -h cache -a {v} ping"),
    _word_form("mongo -u bob -p {v} shop"),
    _word_form("docker login -u bob -p {v} registry.example.com"),
    _url_form("psql postgresql://app:{u}@db.internal:5432/shop"),
    _url_form("mongosh 'mongodb+srv://bob:{u}@cluster0.ab1cd.mongodb.net/shop?retryWrites=true'"),
    _url_form("mongodump --uri mongodb://bob:{u}@h1:27017,h2:27017/shop"),
    _url_form("redis-cli -u redis://:{u}@cache:6379 ping"),
    _url_form("git clone https://bob:{u}@git.example.com/shop/api.git"),
    _header_form('curl -H "Authorization: Bearer {t}" https://api.example.com'),
    _header_form("curl -H 'authorization: token {t}' https://api.github.com/user"),
    _header_form("> Authorization: Basic {t}"),
    _json_form,
    _libpq_form,
]
TOKEN_CARRIERS: list[Callable[[str], str]] = [
    lambda t: t, lambda t: f"echo {t}", lambda t: f"rotate {t} before Friday", lambda t: f"key={t}",
    lambda t: f"'{t}'", lambda t: f"Using token {t}.", lambda t: f"git remote add origin https://{t}@github.com/a/b",
    lambda t: f"export PAYMENTS={t}", lambda t: f"{{\"key\": \"{t}\"}}",
]


@st.composite
def typed_secrets(draw: st.DrawFn) -> tuple[str, str]:
    """(a text that carries a secret, the secret as typed in it)."""
    if draw(st.booleans()):
        token = draw(tokens)
        return draw(st.sampled_from(TOKEN_CARRIERS))(token), token
    carrier = draw(st.sampled_from(CARRIERS))
    return carrier(draw(secrets), draw(secret_names), draw(st.integers(0, 3)))


# -- events that carry it, in real shapes -----------------------------------------------------
def _code_line(text: str) -> str:
    """A line git would show as a hunk's function context (it starts with a letter)."""
    return text if text[:1].isalpha() else f"CONFIG = {text}"


def file_saved(text: str) -> Event:
    old = f"import os\n\n{_code_line(text)}\n\n\n\n\nvalue = 1\n"
    new = old.replace("value = 1", "value = 2") + f"# TODO: {text}\n"
    data = summarize(old, new, "deploy/run.py")
    assert data["hunks"] and data["todos_added"], data  # the secret stands in both
    return Event("file", "file.saved", {"path": "deploy/run.py", **data}, WORKSPACE)


def _terminal_output(text: str) -> bytes:
    """What a failing pytest run printed in a terminal: colours, a `set -x` trace, the summary."""
    red, bold, reset = "\x1b[31m", "\x1b[1m", "\x1b[0m"
    return "\r\n".join([
        f"{bold}============================= test session starts =============================={reset}",
        "collected 12 items", "", f"tests/test_orders.py ....{red}F{reset}.......                              [100%]",
        "=================================== FAILURES ===================================",
        f"{red}{bold}_________________________________ test_connect _________________________________{reset}",
        "    def test_connect():", ">       run_deploy()", "",
        "----------------------------- Captured stderr call -----------------------------",
        f"+ {bold}{text}{reset}", "ERROR 1045 (28000): Access denied for user 'root'@'localhost' (using password: YES)",
        f"{red}E       subprocess.CalledProcessError: Command '{text}' returned non-zero exit status 1.{reset}", "",
        "tests/test_orders.py:47: CalledProcessError",
        "=========================== short test summary info ============================",
        f"FAILED tests/test_orders.py::test_connect - subprocess.CalledProcessError: Command '{text}' returned 1",
        f"{red}========================= 1 failed, 11 passed in 0.42s ========================={reset}", "",
    ]).encode("utf-8")


def shell_command(text: str) -> Event:
    """A shell.command with its evidence built by capture's own code from the terminal's bytes."""
    output = output_evidence(_terminal_output(text), "pty")
    failures, count = parse_short_summary(output["tail"])
    assert failures, output["tail"]  # the failure (and its message with the secret) was found
    return Event("shell", "shell.command", {
        "command": text, "cwd": WORKSPACE, "dir": ".", "exit_code": 1, "duration_s": 0.42, "shell": "bash",
        "session": "4f2a9c1e", "origin": "pty", "evidence": {"output": output, **failures_evidence(failures, count)}},
        WORKSPACE)


def git_commit(text: str) -> Event:
    sha = "9fceb02d0ae598e95dc970b74767f19372d61af8"
    return Event("git", "git.commit", {
        "hash": sha, "short": sha[:7], "summary": text, "author": "Dev", "parents": 1,
        "files": [{"path": "deploy/run.py", "added": 2, "removed": 1}], "files_changed": 1, "insertions": 2,
        "deletions": 1, "branch": "main", "detached": False, "origin": "commit"}, WORKSPACE)


def git_messages(text: str) -> Event:
    return Event("git", "git.stash", {"action": "push", "count": 1, "message": f"On main: {text}", "branch": "main"},
                 WORKSPACE)


def git_merge(text: str) -> Event:
    return Event("git", "git.operation", {"operation": "merge", "status": "started", "branch": "main",
                                          "merging": ["feature/deploy"], "message": f"Merge branch 'deploy': {text}"},
                 WORKSPACE)


def failed_tests(text: str) -> Event:
    return Event("tests", "tests.failed", {
        "tests": [f"tests/test_orders.py::test_connect[{text}]"], "count": 1, "failing": 1, "runner": "pytest",
        "report": "report.xml", "evidence": {"failures": [{
            "test": "tests/test_orders.py::test_connect", "message": f"AssertionError: login failed with {text}",
            "path": "tests/test_orders.py", "line": 47, "traceback": f">       assert login({text!r})\nE       AssertionError"}],
            "failure_count": 1}}, WORKSPACE)


def editor_events(text: str) -> Event:
    return Event("editor", "editor.edited", {"path": f"notes/{text}.md", "changes": 2, "lines_added": 1,
                                             "lines_removed": 0, "ranges": [[3, 4]], "more_ranges": 0, "over_s": 1.5},
                 WORKSPACE)


def editor_opened(text: str) -> Event:
    return Event("editor", "editor.opened", {"path": f"scratch/{text}", "language": "shellscript", "lines": 3},
                 WORKSPACE)


EVENT_KINDS = [file_saved, shell_command, git_commit, git_messages, git_merge, failed_tests, editor_events,
               editor_opened]


# -- the check --------------------------------------------------------------------------------
def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)


def pieces(secret: str, size: int = 6) -> set[str]:
    if len(secret) <= size:
        return {secret}
    return {secret[i:i + size] for i in range(len(secret) - size + 1)}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pipeline, Path]]:
    path = tmp_path_factory.mktemp("redaction") / "companion.db"
    store = Store(path)
    running = Pipeline(store, Redactor())
    running.start()
    yield running, path
    running.stop()
    store.close()


def stored(pipeline: tuple[Pipeline, Path], events: list[Event]) -> list[dict[str, Any]]:
    running, path = pipeline
    for event in events:
        running.submit(event)
    assert running.flush(30)
    with sqlite3.connect(path) as db:
        marks = ",".join("?" * len(events))
        rows = db.execute(f"SELECT data FROM events WHERE id IN ({marks})", [e.id for e in events]).fetchall()
    assert len(rows) == len(events)
    return [json.loads(data) for (data,) in rows]


def assert_nothing_survives(pipeline: tuple[Pipeline, Path], events: list[Event], secret: str,
                            without: list[Event]) -> None:
    """No piece of `secret` in what the store holds for `events`, but what the same events say
    `without` the secret (an ordinary word of the event is no leak)."""
    background = " ".join(text for e in without for text in strings(e.to_dict()["data"]))
    telling = {piece for piece in pieces(secret) if piece not in background}
    assume(telling)  # a secret made only of what the event says anyway tells nothing
    for data in stored(pipeline, events):
        for text in strings(data):
            text = MARKER.sub("\0", text)  # a marker's kind is no piece of the secret
            leaked = sorted(piece for piece in telling if piece in text)
            assert not leaked, f"{leaked} of {secret!r} survived in {text!r}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(carried=typed_secrets(), make=st.sampled_from(EVENT_KINDS))
def test_no_secret_survives_in_any_field_of_any_event(pipeline: tuple[Pipeline, Path], carried: tuple[str, str],
                                                      make: Callable[[str], Event]) -> None:
    text, secret = carried
    assert_nothing_survives(pipeline, [make(text)], secret, [make(text.replace(secret, " "))])


@settings(max_examples=100, deadline=None)
@given(carried=st.lists(typed_secrets(), min_size=2, max_size=4))
def test_several_secrets_in_one_command_line(pipeline: tuple[Pipeline, Path], carried: list[tuple[str, str]]) -> None:
    line = " && ".join(text for text, _ in carried)
    for _, secret in carried:
        assert_nothing_survives(pipeline, [shell_command(line)], secret, [shell_command(line.replace(secret, " "))])


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "config", "user.email", "dev@example.com")
    _git(root, "config", "user.name", "Dev")
    return root


@settings(max_examples=25, deadline=None)
@given(carried=typed_secrets())
def test_a_real_commit_summary_read_by_the_git_reader(pipeline: tuple[Pipeline, Path], repo: Path,
                                                      carried: tuple[str, str]) -> None:
    """The summary as the git watcher's reader returns it from a real commit."""
    from watchers.git_repo import locate
    from watchers.git_state import GitReader

    text, secret = carried
    (repo / "run.py").write_text(f"# {uuid.uuid4().hex}\n")
    _git(repo, "add", "run.py")
    _git(repo, "commit", "-q", "-m", text.replace("\n", " "))
    handle, location = locate(repo)
    info = GitReader(handle, location).commit_info(_git(repo, "rev-parse", "HEAD").strip())
    assert info["summary"] == text.replace("\n", " ").strip()
    event = Event("git", "git.commit", {**info, "branch": "main"}, WORKSPACE)
    assert_nothing_survives(pipeline, [event], secret, [git_commit(text.replace(secret, " ")), event.with_data({
        key: value for key, value in info.items() if key != "summary"})])
