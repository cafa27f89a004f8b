"""The forms issue 13 found raw in the store, end to end: typed in a real bash with the hook,
saved in a file the file watcher reads (TODOs, hunk headers), committed with git (summary), all
recorded by a real daemon. Afterwards no secret is in the database's files (database, WAL),
whatever table or page it could have reached."""

from __future__ import annotations

import os
from pathlib import Path

from companion.config import Config
from tests.conftest import git, wait_for
from tests.shell.conftest import open_shell  # noqa: F401  (the fixture)
from tests.shell.helpers import wait_for_commands

LONG_STRIPE_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dcAbCdEfGhIjKlMnOpQrStUvWx0123456789"
# (what the user types, the secret in it)
FORMS = [
    ("mysql -u root -p'S3cretPa55word' shop", "S3cretPa55word"),
    ('mysql -u root -p"Qu0ted Pa55 phrase" shop', "Qu0ted Pa55 phrase"),
    ("sshpass -p plainhunter ssh deploy@127.0.0.1 true", "plainhunter"),
    ("PGPASSWORD=letmeinplease psql -h 127.0.0.1 -U app shop", "letmeinplease"),
    ("export DB_PASSWORD='words with many spaces'", "words with many spaces"),
    ("curl -s -m 1 -u bob:curlhunter http://127.0.0.1:9/", "curlhunter"),
    ("redis-cli -a redishunter ping", "redishunter"),
    ("mongosh 'mongodb+srv://bob:mongohunter@cluster0.example.net/shop'", "mongohunter"),
    ("echo " + LONG_STRIPE_KEY, LONG_STRIPE_KEY),
]


def _config() -> Config:
    config = Config()
    config.watch.debounce_ms = 60
    config.watch.git_poll_seconds = 0.05
    return config


def _database_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_issue_forms_never_reach_the_database(repo: Path, daemon_factory, open_shell) -> None:  # noqa: F811
    daemon = daemon_factory(repo, config=_config())
    wait_for(lambda: next(w for w in daemon.watchers if w.name == "file").ready.is_set(), timeout=60)
    shell = open_shell("bash", repo)
    for line, _ in FORMS:
        shell.run(line)
    wait_for_commands(daemon.store, repo, len(FORMS), timeout=60)

    # a script whose lines are the commands: the hunk headers show them as context, TODOs repeat them
    script = repo / "deploy.sh"
    old = "".join(f"{line}\n\n\n\n\necho step {n}\n" for n, (line, _) in enumerate(FORMS))
    script.write_text(old)
    wait_for(lambda: [e for e in daemon.store.events(workspace=str(daemon.workspace), sources=["file"])
                      if e.data.get("path") == "deploy.sh"], timeout=60)  # its first version is known
    new = old.replace("echo step", "echo stage") + "".join(f"# TODO: {line}\n" for line, _ in FORMS)
    temp = repo / ".deploy.sh.tmp"
    temp.write_text(new)
    os.replace(temp, script)
    for line, _ in FORMS[:3]:
        git(repo, "commit", "-q", "--allow-empty", "-m", f"Deploy with {line}")

    def recorded() -> bool:
        events = daemon.store.events(workspace=str(daemon.workspace))
        saves = [e for e in events if e.kind == "file.saved" and e.data.get("todos_added")]
        commits = [e for e in events if e.kind == "git.commit"]
        return bool(saves) and len(commits) >= 3

    wait_for(recorded, timeout=90)
    daemon.pipeline.flush()
    events = daemon.store.events(workspace=str(daemon.workspace))
    saved = next(e for e in events if e.kind == "file.saved" and e.data.get("todos_added"))
    assert len(saved.data["todos_added"]) == len(FORMS) and saved.data["hunks"]
    assert all("[REDACTED:" in todo for todo in saved.data["todos_added"])
    assert any("mysql -u root -p[REDACTED:password] shop" in hunk for hunk in saved.data["hunks"])
    commands = {e.data["command"] for e in events if e.kind == "shell.command"}
    assert "export DB_PASSWORD=[REDACTED:secret-assignment]" in commands
    assert "echo [REDACTED:stripe-access-key]" in commands  # one marker for the whole long key
    raw = _database_bytes(daemon.store.path)
    for _, secret in FORMS:
        assert secret.encode() not in raw, secret
    assert LONG_STRIPE_KEY[-20:].encode() not in raw  # no tail of the key beside its marker
