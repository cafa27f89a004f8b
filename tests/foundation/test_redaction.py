"""Redaction: realistic secrets of each kind are replaced; the signal around them is kept."""

from __future__ import annotations

import pytest

from companion.redact import Redactor

SECRETS = [
    # (text, the secret that must disappear, the kind expected in the marker)
    ("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "aws-access-key"),
    ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None),
    ("git remote add origin https://ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789@github.com/a/b", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "github-token"),
    ("GITLAB=glpat-9sL2kX7vQp4mZ1rT8wYb npm publish", "glpat-9sL2kX7vQp4mZ1rT8wYb", "gitlab-token"),
    ("curl -d token=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx https://slack.com/api", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack-token"),
    ("stripe.api_key = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", None),
    ("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD python bot.py", "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD", None),
    ("maps key AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe in config", "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", "google-api-key"),
    ("git clone https://bob:hunter2pass@example.com/x/y.git", "hunter2pass", None),
    ("psql postgres://admin:Sup3rS3cret@db.internal:5432/app", "Sup3rS3cret", None),
    ("mysql -u root -pS3cretPw shop", "S3cretPw", "password"),
    ("deploy --password=Tr0ub4dor&3 --verbose", "Tr0ub4dor&3", "password"),
    ("login --password 'correct horse' now", "correct", "password"),
    ('curl -H "Authorization: Bearer abcDEF123456ghiJKL" https://api.example.com', "abcDEF123456ghiJKL", None),
    ("set -gx API_TOKEN s3cr3tvalue", "s3cr3tvalue", "secret-assignment"),
    ("export DB_PASSWORD=letmein99", "letmein99", "secret-assignment"),
    ("token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "json-web-token"),
    ("blob Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZkdISUpLTA9x9Qz end", "Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZkdISUpLTA9x9Qz", "high-entropy"),
]

# Every way a shell user types a credential (issue 13 item 4): (text, the secret, the kind).
SHELL_FORMS = [
    ("mysql -u root -p'S3cretPa55word' shop", "S3cretPa55word", "password"),
    ('mysql -u root -p"S3cret Pa55word" shop', "S3cret Pa55word", "password"),
    ("mysql -u root -pSecret shop", "Secret", "password"),
    ("mariadb --password='two words' -h db", "two words", "password"),
    ("docker exec db mysqldump -uroot -p\"$ROOT_PW\" app", "$ROOT_PW", "password"),
    ("psql postgresql://app:hunter2@db.internal:5432/app", "hunter2", None),
    ('psql "host=db port=5432 user=app password=hunter2 dbname=app"', "hunter2", "secret-assignment"),
    ("psql \"host=db password='my pw' dbname=app\"", "my pw", "secret-assignment"),
    ("PGPASSWORD=hunter2 psql -h db -U app", "hunter2", "secret-assignment"),
    ("MYSQL_PWD=letmein mysql -u root", "letmein", "secret-assignment"),
    ("export DB_PASSWORD='words with spaces'", "words with spaces", "secret-assignment"),
    ('export GH_TOKEN="abc def"', "abc def", "secret-assignment"),
    ("API_SECRET=hunter2 ./deploy.sh", "hunter2", "secret-assignment"),
    ("STRIPE_KEY=plainword node server.js", "plainword", "secret-assignment"),
    ("env MYSQL_ROOT_PASSWORD=changeme docker compose up", "changeme", "secret-assignment"),
    ("set -x DB_PASSWORD words with spaces", "with spaces", "secret-assignment"),
    ("setenv DB_PASSWORD hunter2", "hunter2", "secret-assignment"),
    ("sshpass -p hunter2 ssh deploy@host", "hunter2", "password"),
    ("sshpass -p 'my pass' scp a host:", "my pass", "password"),
    ("curl -u bob:hunter2 https://api.example.com", "hunter2", "password"),
    ("curl --user 'bob:my pass' https://api.example.com", "my pass", "password"),
    ("curl --token=abc123 https://x", "abc123", "password"),
    ("curl --oauth2-bearer abc123 https://x", "abc123", "password"),
    ("redis-cli -h cache -a hunter2 ping", "hunter2", "password"),
    ("redis-cli -u redis://:hunter2@cache:6379 ping", "hunter2", None),
    ("mongosh 'mongodb+srv://bob:hunter2@cluster0.abcde.mongodb.net/app?retryWrites=true'", "hunter2", None),
    ("mongodump --uri mongodb://bob:p%40ss@h1:27017,h2:27017/app", "p%40ss", None),
    ("mongo -u bob -p hunter2 app", "hunter2", "password"),
    ('curl -H "Authorization: Bearer abcdef" https://api', "abcdef", "authorization"),
    ("curl -H 'authorization: token ghp_short' https://api", "ghp_short", "authorization"),
    ('{"Authorization": "Basic Ym9iOmh1bnRlcjI="}', "Ym9iOmh1bnRlcjI=", "authorization"),
    ("> Authorization: Bearer tok3n-value", "tok3n-value", "authorization"),
    ("curl -H 'X-Api-Key: plainkey' https://api", "plainkey", "authorization"),
    ('"password": "hunter2"', "hunter2", "secret-assignment"),
    ("password: hunter2", "hunter2", "secret-assignment"),
    ("Server=db;User Id=app;Password=p4ss;", "p4ss", "secret-assignment"),
    ("machine api.example.com login bob password hunter2", "hunter2", "password"),
    ("docker login -u bob -p hunter2 registry.example.com", "hunter2", "password"),
    ("openssl enc -aes256 -pass pass:hunter2 -in a", "pass:hunter2", "password"),
    ("7z a -pS3cret99 backup.7z src", "S3cret99", "password"),
    ('psql "host=db password=a&b;c|d dbname=shop"', "a&b;c|d", "secret-assignment"),
    ('docker run -e "API_TOKEN=x(y)z" app', "x(y)z", "secret-assignment"),
    ("mysql -u root -pAKIAIOSFODNN7EXAMPLE shop", "AKIAIOSFODNN7EXAMPLE", "aws-access-key"),
]

KEEP = [
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 Fix token refresh",
    "Merge: 1a2b3c4 5d6e7f8",
    "tests/test_api.py::test_user_1b4e28ba-2fa1-11d2-883f-0016d3cca427 PASSED",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "python -m pytest tests/test_auth.py::test_password_reset_sends_email -x",
    "git checkout auth fix-login",
    "pip install -r requirements.txt",
    "npm install left-pad@1.3.0 --save-dev",
    "bypass_cache=true make build",
    "def test_parse_long_function_names_properly(): pass",
    "The user saved `src/auth/token_refresh_handler.py` (+12 −3 lines).",
    # flags that take -p, -a, -u for other things, and code that names secrets without holding one
    "docker run -p 8080:80 -p127.0.0.1:5432:5432 postgres",
    "ssh -p 2222 deploy@host", "ssh -p2222 host", "cp -pr a b", "tar -pxzf x.tgz", "gcc -pthread -pedantic x.c",
    "git add -p", "mysql -u root -p shop", "psql -h db -p 5432 -U app app", "sort -u names.txt", "curl -u bob https://x",
    "tokenizer = AutoTokenizer.from_pretrained(name)", "max_tokens=256",
    "@@ -10,6 +10,8 @@ def check_password(self, password: str) -> bool:",
    "@@ -1,3 +1,4 @@ def login(user, password=None):", "token: Optional[str] = None",
    "tests/test_auth.py::TestToken::test_refresh PASSED",
    "FAILED tests/test_token.py::test_expiry - AssertionError: assert 1 == 2",
    "PWD=/home/bob OLDPWD=/tmp", "sorted(xs, key=lambda x: x[0])", "monkey=1", "if password == expected:",
    "echo $GITHUB_TOKEN | gh auth login --with-token", "docker login --password-stdin",
    "The bearer authentication scheme", "https://example.com:8443/path",
    "mysql: [Warning] Using a password on the command line interface can be insecure.",
]


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


@pytest.mark.parametrize("text,secret,kind", SECRETS)
def test_secrets_are_replaced(redactor: Redactor, text: str, secret: str, kind: str | None) -> None:
    clean = redactor.redact(text)
    assert secret not in clean
    assert "[REDACTED:" in clean
    if kind:
        assert f"[REDACTED:{kind}]" in clean


@pytest.mark.parametrize("text,secret,kind", SHELL_FORMS)
def test_shell_credential_forms(redactor: Redactor, text: str, secret: str, kind: str | None) -> None:
    clean = redactor.redact(text)
    assert secret not in clean, clean
    assert clean.count("[REDACTED:") == 1, clean  # one marker, and the command around it is kept
    if kind:
        assert f"[REDACTED:{kind}]" in clean


@pytest.mark.parametrize("key", [
    "sk_live_4eC39HqLyjWDarjtT1zdp7dcAbCdEfGhIjKlMnOpQrStUvWx0123456789abcdefXYZ",  # longer than the 24 of its pattern
    "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789EXTRAtail",
    "AKIAIOSFODNN7EXAMPLEAKIAIOSFODNN7EXAMPLE",
    "glpat-9sL2kX7vQp4mZ1rT8wYb-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789xyz",
])
def test_a_long_key_becomes_one_marker(redactor: Redactor, key: str) -> None:
    for text in (f"stripe {key} now", f"export PAYMENTS={key}", f"'{key}'"):
        clean = redactor.redact(text)
        assert clean.count("[REDACTED:") == 1, clean
        assert not any(key[i:i + 6] in clean for i in range(len(key) - 5)), clean


@pytest.mark.parametrize("text", [t for t, _, _ in SECRETS + SHELL_FORMS])
def test_redacting_twice_changes_nothing(redactor: Redactor, text: str) -> None:
    once = redactor.redact(text)
    assert redactor.redact(once) == once


@pytest.mark.parametrize("text", KEEP)
def test_signal_is_kept(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text) == text


def test_private_key_block_is_removed_whole(redactor: Redactor) -> None:
    pem = ("before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
           "QyNTUxOQAAACDfakefakefakefake\n-----END OPENSSH PRIVATE KEY-----\nafter")
    clean = redactor.redact(pem)
    assert clean == "before\n[REDACTED:private-key]\nafter"


def test_user_patterns_from_config() -> None:
    redactor = Redactor(patterns=[r"ACME-\d{6}"])
    assert redactor.redact("ticket ACME-123456 closed") == "ticket [REDACTED:custom] closed"


def test_bad_user_pattern_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a valid regex"):
        Redactor(patterns=["(unclosed"])


def test_nested_event_data_is_redacted(redactor: Redactor) -> None:
    data = {"command": "mysql -pS3cretPw", "args": ["--token", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"],
            "nested": {"url": "https://u:pw123456@h/x"}, "exit_code": 1}
    clean = redactor.redact_data(data)
    text = repr(clean)
    assert "S3cretPw" not in text and "ghp_aBcDeF" not in text and "pw123456" not in text
    assert clean["exit_code"] == 1


@pytest.mark.parametrize("name,secret", [(".env", True), (".env.local", True), ("prod.env", True), ("server.pem", True),
                                         ("tls.key", True), ("id_rsa", True), ("id_rsa.pub", True), ("id_ed25519", True),
                                         ("env.py", False), ("keys.py", False), ("README.md", False)])
def test_secret_files_by_name(redactor: Redactor, name: str, secret: bool) -> None:
    assert redactor.is_secret_file(f"some/dir/{name}") is secret


def test_the_file_watcher_never_hands_redaction_a_cut_key(redactor: Redactor) -> None:
    """Hunk context lines (80 characters) and TODOs (200) are cut at a blank, not inside a key:
    here a plain cut would leave `ghp_a`, too short for any rule and part of the key."""
    from watchers.changes import summarize

    key = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
    line = "deploy = run(" + "x " * 31 + key + ")"  # the key starts at column 75
    todo = "TODO: " + "y " * 97 + key  # the key starts at character 200 - 5
    old = f"import os\n\n{line}\n\n\n\n\nvalue = 1\n"
    new = old.replace("value = 1", "value = 2") + f"# {todo}\n"
    data = summarize(old, new, "deploy.py")
    texts = [redactor.redact(text) for text in (*data["hunks"], *data["todos_added"])]
    assert len(texts) == 2 and all(len(text) <= 220 for text in texts)
    assert not any(key[:5] in text for text in texts), texts
