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
