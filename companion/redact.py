"""Secrets never leave the watcher pipeline: every string in an event is redacted first.

Provider tokens come from detect-secrets' own regex detectors (AWS, GitHub, GitLab, Slack,
Stripe, OpenAI, JWT, basic-auth URLs, private keys, and the rest of its catalogue), so they
stay current with that project. On top of them: what detect-secrets does not cover for shell
and editor text (Google API keys, whole private-key blocks, `-p`/`--password` options,
`export SECRET_NAME=value`, Authorization headers, secret-looking assignments), long
high-entropy strings (hex-only strings and UUIDs are kept: they are git hashes and test ids,
the signal we need), and the user's own patterns.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
import inspect
import math
import pkgutil
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Iterable, Mapping

from detect_secrets.plugins.base import RegexBasedDetector

SECRET_FILE_PATTERNS = (".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_dsa*",
                        "id_ecdsa*", "id_ed25519*", ".netrc", ".pgpass", "*.keystore", "credentials.json")
# a name with a secret-looking segment: AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, DB_PASS (not "bypass")
_SECRET_NAME = (r"\b(?:[A-Za-z0-9]+_)*(?i:secret|token|password|passwd|pass|pwd|apikey|api_key|access_key|private_key"
                r"|credentials?|auth|auth_token)(?:_[A-Za-z0-9]+)*\b")
_TOKEN_CHARS = r"A-Za-z0-9+/=_\-.~"
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CANDIDATE = re.compile(r"[A-Za-z0-9+/=_\-]{20,}")


@dataclass(frozen=True)
class Rule:
    """A pattern whose `secret` group (or whole match) is replaced by [REDACTED:kind]."""

    kind: str
    pattern: re.Pattern[str]


# Provider formats detect-secrets lacks (or matches only partly); applied before its detectors.
_PROVIDER_RULES = (
    Rule("private-key", re.compile(r"-----BEGIN[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----.*?(-----END[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----|\Z)", re.S)),
    Rule("json-web-token", re.compile(r"(?P<secret>eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)")),
    Rule("google-api-key", re.compile(r"(?P<secret>AIza[0-9A-Za-z\-_]{35})")),
    Rule("openai-token", re.compile(r"(?P<secret>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{32,})")),
)
# Secrets recognised by where they stand in a command or file rather than by their shape.
_CONTEXT_RULES = (
    Rule("authorization", re.compile(r"(?i)(authorization\s*:\s*(?:bearer|token|basic)\s+)(?P<secret>[" + _TOKEN_CHARS + r"]{8,})")),
    Rule("password", re.compile(r"(?<![\w-])(?:--password|--passwd|--pass|--token|--api-key|--secret)(?:=|\s+)(?P<secret>'[^']*'|\"[^\"]*\"|[^\s'\"]+)")),
    Rule("password", re.compile(r"(?<![\w-])-p(?P<secret>[^\s'\"-][^\s'\"]*)")),  # mysql -pSECRET
    Rule("password", re.compile(r"://[^/\s:@]+:(?P<secret>[^@\s/]+)@")),  # scheme://user:pass@host
    Rule("secret-assignment", re.compile(r"(?:\b(?:set\s+-[gxU]+|setenv)\s+)" + _SECRET_NAME
                                         + r"\s+(?P<q>['\"]?)(?P<secret>[^\s'\"]{4,})(?P=q)")),  # fish, csh
    Rule("secret-assignment", re.compile(_SECRET_NAME + r"\s*[=:]\s*(?P<q>['\"]?)(?P<secret>[^\s'\",;]{4,})(?P=q)")),
)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _detect_secrets_plugins() -> list[RegexBasedDetector]:
    """Every regex-based detector detect-secrets ships, instantiated once."""
    import detect_secrets.plugins as package

    found: list[RegexBasedDetector] = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, RegexBasedDetector) and cls is not RegexBasedDetector and cls.__module__ == module.__name__:
                try:
                    found.append(cls())
                except TypeError:
                    continue
    return found


def shannon_entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


class Redactor:
    """Replaces secrets by [REDACTED:<kind>] in strings and in nested event data."""

    def __init__(self, patterns: Iterable[str] = (), entropy: bool = True, secret_files: Iterable[str] = ()) -> None:
        self._plugin_patterns = [(_slug(plugin.secret_type), pattern)
                                 for plugin in _detect_secrets_plugins() for pattern in plugin.denylist]
        self._custom = []
        for source in patterns:
            try:
                self._custom.append(Rule("custom", re.compile(source)))
            except re.error as exc:
                raise ValueError(f"redaction pattern {source!r} is not a valid regex: {exc}") from None
        self._entropy = entropy
        self._secret_files = tuple(SECRET_FILE_PATTERNS) + tuple(secret_files)
        # Event strings repeat a lot (paths, kinds, the same command run again); ~45 regular
        # expressions per string make redaction the pipeline's cost, so remember recent answers.
        self._cached = functools.lru_cache(maxsize=8192)(self._redact)

    def redact(self, text: str) -> str:
        if not text or not isinstance(text, str):
            return text
        if len(text) <= 4096:
            return self._cached(text)
        return self._redact(text)

    def _redact(self, text: str) -> str:
        for rule in _PROVIDER_RULES:
            text = _apply_rule(rule, text)
        for kind, pattern in self._plugin_patterns:
            text = pattern.sub(lambda match, kind=kind: _replace_secret(match, kind), text)
        for rule in (*_CONTEXT_RULES, *self._custom):
            text = _apply_rule(rule, text)
        if self._entropy:
            text = _CANDIDATE.sub(_entropy_replacement, text)
        return text

    def redact_data(self, value: Any) -> Any:
        """Redact every string inside JSON-like data (keys are kept; they are names, not values)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {k: self.redact_data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact_data(v) for v in value]
        return value

    def is_secret_file(self, path: str | PurePath) -> bool:
        """Files that are secrets by name are never read (their events carry no content)."""
        name = PurePath(path).name
        return any(fnmatch.fnmatch(name, pattern) for pattern in self._secret_files)


def _replace_secret(match: re.Match[str], kind: str) -> str:
    """Replace the secret inside a detect-secrets match: its longest capture group when that group
    is the secret (a password after `user:`), else the whole match (groups like `ghp` are prefixes)."""
    whole = match.group(0)
    if "REDACTED" in whole:
        return whole
    spans = [match.span(i) for i in range(1, (match.re.groups or 0) + 1) if match.group(i)]
    start, end = max(spans, key=lambda s: s[1] - s[0], default=match.span())
    if end - start < 8:
        start, end = match.span()
    return whole[: start - match.start()] + f"[REDACTED:{kind}]" + whole[end - match.start():]


def _apply_rule(rule: Rule, text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if "[REDACTED:" in whole:
            return whole  # already redacted by a more specific detector; never nest markers
        start, end = match.span("secret") if "secret" in match.re.groupindex else match.span()
        return whole[: start - match.start()] + f"[REDACTED:{rule.kind}]" + whole[end - match.start():]

    return rule.pattern.sub(replace, text)


def _entropy_replacement(match: re.Match[str]) -> str:
    token = match.group(0)
    if _HEX.match(token) or _UUID.match(token) or "REDACTED" in token:
        return token
    if not (re.search(r"[A-Z]", token) and re.search(r"[a-z]", token) and re.search(r"[0-9]", token)):
        return token  # identifiers like some_long_function_name_here are not secrets
    if len(token) >= 20 and shannon_entropy(token) >= 4.2:
        return "[REDACTED:high-entropy]"
    return token


_default: Redactor | None = None


def default_redactor() -> Redactor:
    global _default
    if _default is None:
        _default = Redactor()
    return _default
