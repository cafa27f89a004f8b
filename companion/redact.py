"""Secrets never leave the watcher pipeline: every string in an event is redacted first.

Provider tokens come from detect-secrets' own regex detectors (AWS, GitHub, GitLab, Slack,
Stripe, OpenAI, JWT, basic-auth URLs, private keys, and the rest of its catalogue), so they
stay current with that project. On top of them: provider shapes it lacks (Google API keys, whole
private-key blocks), the credential rules of `companion.redact_rules` (every way a shell user
types a password or token: `mysql -p'..'`, `PGPASSWORD=..`, `export DB_PASSWORD='x y'`,
`sshpass -p`, `curl -u user:pass`, `redis-cli -a`, `scheme://user:pass@`, Authorization
headers...), long high-entropy strings (hex-only strings and UUIDs are kept: they are git hashes
and test ids, the signal we need), and the user's own patterns.

Every rule only finds spans; overlapping or touching spans are merged and each merged span
becomes ONE `[REDACTED:kind]` marker (the kind of the most specific rule), so a secret is never
cut into two markers that show its shape. A provider shape covers the whole token it sits in: a
`sk_live_` key longer than detect-secrets' pattern is replaced whole. Redacting twice changes
nothing (markers are kept as they are).
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
from pathlib import PurePath
from typing import Any, Iterable, Iterator, Mapping

from detect_secrets.plugins.base import RegexBasedDetector

from companion.redact_rules import CONTEXT_RULES, CUT_TOKEN, Rule

__all__ = ["Redactor", "Rule", "shannon_entropy", "SECRET_FILE_PATTERNS"]

SECRET_FILE_PATTERNS = (".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_dsa*",
                        "id_ecdsa*", "id_ed25519*", ".netrc", ".pgpass", "*.keystore", "credentials.json")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CANDIDATE = re.compile(r"[A-Za-z0-9+/=_\-]{20,}")
_MARKER = re.compile(r"\[REDACTED:([a-z0-9-]+)\]")
_SECRET_GROUPS = ("secret", "secret2", "secret3")
_TOKEN_HEAD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_TOKEN_TAIL = _TOKEN_HEAD | frozenset("_+=-")
_EDGE = " \t\r\n=:\"'"

# Provider formats detect-secrets lacks (or matches only partly); ahead of its detectors.
_PROVIDER_RULES = (
    Rule("private-key", re.compile(r"-----BEGIN[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----.*?(-----END[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----|\Z)", re.S)),
    Rule("json-web-token", re.compile(r"(?P<secret>eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)"), whole_token=True),
    Rule("google-api-key", re.compile(r"(?P<secret>AIza[0-9A-Za-z\-_]{35})"), whole_token=True),
    Rule("openai-token", re.compile(r"(?P<secret>sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{32,})"), whole_token=True),
)
Span = tuple[int, int, int, str]  # start, end, priority (lower wins the kind), kind


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
        plugins = [Rule(_slug(plugin.secret_type), pattern, whole_token=True)
                   for plugin in _detect_secrets_plugins() for pattern in plugin.denylist]
        custom = []
        for source in patterns:
            try:
                custom.append(Rule("custom", re.compile(source)))
            except re.error as exc:
                raise ValueError(f"redaction pattern {source!r} is not a valid regex: {exc}") from None
        # in order of specificity: a merged span takes the kind of its earliest rule
        self._rules = (*_PROVIDER_RULES, *plugins, CUT_TOKEN, *CONTEXT_RULES, *custom)
        self._entropy = entropy
        self._secret_files = tuple(SECRET_FILE_PATTERNS) + tuple(secret_files)
        # Event strings repeat a lot (paths, kinds, the same command run again); ~70 regular
        # expressions per string make redaction the pipeline's cost, so remember recent answers.
        self._cached = functools.lru_cache(maxsize=8192)(self._redact)

    def redact(self, text: str) -> str:
        if not text or not isinstance(text, str):
            return text
        if len(text) <= 4096:
            return self._cached(text)
        return self._redact(text)

    def _redact(self, text: str) -> str:
        spans: list[Span] = [(m.start(), m.end(), -1, m.group(1)) for m in _MARKER.finditer(text)]
        lowered = text.lower()
        for priority, rule in enumerate(self._rules):
            # most strings match no rule: one `search` (and a substring test first where the
            # rule has one) is the cheapest way to learn it
            if rule.needles and not rule.may_match(lowered):
                continue
            first = rule.pattern.search(text)
            if first is not None:
                spans.extend(_rule_spans(rule, text, first.start(), priority))
        merged = _merge(spans)
        if self._entropy:
            merged = _merge([*merged, *_entropy_spans(text, merged, len(self._rules))])
        if not merged:
            return text
        parts: list[str] = []
        at = 0
        for start, end, _, kind in merged:
            parts += [text[at:start], f"[REDACTED:{kind}]"]
            at = end
        parts.append(text[at:])
        return "".join(parts)

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


def _rule_spans(rule: Rule, text: str, at: int, priority: int) -> Iterator[Span]:
    for match in rule.pattern.finditer(text, at):
        start, end = _secret_span(match, rule.whole_token)
        if rule.whole_token:
            start, end = _whole_token(text, start, end)
        if start < end:
            yield start, end, priority, rule.kind


def _secret_span(match: re.Match[str], shape: bool) -> tuple[int, int]:
    """Where the secret is in a match: its `secret` group; in a detect-secrets match, its longest
    group when that group is the secret (the password of `://user:pw@`, a 40-character AWS key),
    else the whole match (groups like `ghp` are prefixes) without the delimiters it takes along."""
    names = match.re.groupindex
    for name in _SECRET_GROUPS:
        if name in names and match.group(name) is not None:
            return match.span(name)
    if shape and match.re.groups and not names:
        spans = [match.span(i) for i in range(1, match.re.groups + 1) if match.group(i)]
        start, end = max(spans, key=lambda s: s[1] - s[0], default=match.span())
        if end - start >= 8 or (start > match.start() and end >= match.end() - 1):
            return start, end
    start, end = match.span()
    whole = match.group(0)
    if shape:
        start += len(whole) - len(whole.lstrip(_EDGE))
        end -= len(whole) - len(whole.rstrip(_EDGE))
    return start, end


def _whole_token(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow a shape's span to the token it sits in (letters and digits before it; also _+=- after),
    but not over a short option it is glued to (`-pAKIA…` keeps its `-p`)."""
    head = start
    while head > 0 and text[head - 1] in _TOKEN_HEAD:
        head -= 1
    if not (head == start - 1 and head > 0 and text[head - 1] == "-" and (head == 1 or not text[head - 2].isalnum())):
        start = head
    while end < len(text) and text[end] in _TOKEN_TAIL:
        end += 1
    return start, end


def _merge(spans: list[Span]) -> list[Span]:
    """Overlapping or touching spans become one, with the kind of its most specific rule."""
    merged: list[Span] = []
    for start, end, priority, kind in sorted(spans):
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            best = min((last[2], last[3]), (priority, kind))
            merged[-1] = (last[0], max(last[1], end), best[0], best[1])
        else:
            merged.append((start, end, priority, kind))
    return merged


def _entropy_spans(text: str, taken: list[Span], priority: int) -> Iterator[Span]:
    """Long random-looking strings in the text between the spans already found."""
    at = 0
    for start, end in [*((s, e) for s, e, _, _ in taken), (len(text), len(text))]:
        for match in _CANDIDATE.finditer(text, at, start):
            if _looks_random(match.group(0)):
                yield match.start(), match.end(), priority, "high-entropy"
        at = end


def _looks_random(token: str) -> bool:
    if _HEX.match(token) or _UUID.match(token):
        return False
    if not (re.search(r"[A-Z]", token) and re.search(r"[a-z]", token) and re.search(r"[0-9]", token)):
        return False  # identifiers like some_long_function_name_here are not secrets
    return shannon_entropy(token) >= 4.2

