"""Is a model's own task grounded? It must name something the evidence holds — a file, a test, a
command, a symbol — and every path it names must exist. Otherwise it is generic ("Help with this
task right now.") and dropped, with the reason logged and stored.

"Something the evidence holds" means a code-like token (a path, a dotted or snake_case name, a
test id, a quoted name from an error message), not an English word: "tests" in "Help with the
latest tests" does not count, `test_valid` or `_parser.py` does.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

TOKEN = re.compile(r"[A-Za-z0-9_@~][\w./:@~-]*")
QUOTED = re.compile(r"""['"`]([^'"`\s]{2,80})['"`]""")
FILE_EXTENSIONS = frozenset("""py pyi js mjs cjs ts tsx jsx json toml yaml yml txt md rst cfg ini c h cc cpp hpp rs go java
kt rb sh bash zsh fish lock html css scss xml csv sql ipynb php swift cs vue svelte env mk gradle""".split())
MIN_SYMBOL = 3


@dataclass
class Grounding:
    ok: bool
    reason: str = ""
    named: list[str] = field(default_factory=list)  # the evidence terms the reply names


LINE_SUFFIX = re.compile(r"(?::\d+)+$")


def _strip(token: str) -> str:
    """A token without surrounding punctuation, a `:line[:col]` suffix, or a diff's a/ b/ prefix."""
    token = LINE_SUFFIX.sub("", token.strip(".,:;()[]{}'\"`!?")).strip(".,:;")
    return token[2:] if token.startswith(("a/", "b/")) and len(token) > 2 else token


def looks_like_path(token: str) -> bool:
    token = token.split("::")[0]
    if "://" in token or token.startswith("@"):
        return False
    extension = posixpath.splitext(token)[1][1:].lower()
    if extension in FILE_EXTENSIONS and len(token) > len(extension) + 1:
        return True
    return "/" in token and not token.endswith("/") and bool(re.search(r"[A-Za-z]", token)) and " " not in token \
        and token.count("/") >= 1 and not re.fullmatch(r"[\d/.-]+", token)


def code_like(token: str) -> bool:
    if len(token) < MIN_SYMBOL:
        return False
    if looks_like_path(token) or "::" in token:
        return True
    if "_" in token.strip("_") or re.search(r"[a-z][A-Z]", token) or re.search(r"[A-Za-z]\.[A-Za-z]", token):
        return True
    return bool(re.search(r"[A-Za-z]\d|\d[A-Za-z]", token)) and not re.fullmatch(r"\d+[a-z]{1,2}", token)


def texts_in(value: Any) -> Iterable[str]:
    """Every string inside a JSON-like value (event data, evidence), depth first."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from texts_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from texts_in(item)


def evidence_terms(data: Mapping[str, Any]) -> set[str]:
    """Code-like tokens of an event's data (command, paths, tests, evidence) and their basenames."""
    terms: set[str] = set()
    for text in texts_in(data):
        text = text[-64_000:]
        for match in QUOTED.finditer(text):
            terms.add(match.group(1))
        for raw in TOKEN.findall(text):
            token = _strip(raw)
            if code_like(token):
                terms.add(token)
                for part in token.split("::"):
                    terms.add(part)
                    if looks_like_path(part):
                        terms.add(posixpath.basename(part))
                        terms.add(posixpath.splitext(posixpath.basename(part))[0])
    command = str(data.get("command") or "").strip()
    if command:
        terms.add(command)
    return {t for t in terms if len(t) >= MIN_SYMBOL}


def _exists(path: str, roots: Iterable[Path]) -> bool:
    path = path.split("::")[0]
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate.exists()
    return any((root / candidate).exists() for root in roots)


def _evidence_paths(token: str, terms: set[str]) -> list[str]:
    """The evidence's paths that `token` names: the same, or one ending in `/token` (a traceback's
    absolute path for the model's `app/settings.py` or `settings.py`)."""
    token = token.split("::")[0].lstrip("./")
    return [t for t in terms if looks_like_path(t) and (t == token or t.split("::")[0].endswith("/" + token))]


def check(task: str, response: str, path: str | None, terms: set[str], workspace: Path | None,
          cwd: Path | None = None) -> Grounding:
    """Whether a model's own proposal is grounded in the evidence terms, with the reason if not."""
    text = " ".join(filter(None, (task, response, path or "")))
    roots = [r for r in (cwd, workspace) if r is not None]
    tokens = {_strip(t) for t in TOKEN.findall(text)} | {m.group(1) for m in QUOTED.finditer(text)}
    if path:
        tokens.add(path)
    paths = {t: _evidence_paths(t, terms) for t in tokens if looks_like_path(t)}
    missing = sorted(t for t, known in paths.items()
                     if roots and not _exists(t, roots) and not any(_exists(k, roots) for k in known))
    if missing:
        return Grounding(False, f"names {', '.join(missing[:3])}, which does not exist")
    named = sorted(t for t in tokens if t in terms and code_like(t))
    named += sorted(t for t, known in paths.items() if known and t not in named)
    command = next((t for t in terms if " " in t and t in text), None)
    if command:
        named.append(command)
    if not named:
        return Grounding(False, "generic: it names no file, test, command or symbol from the evidence")
    return Grounding(True, named=named[:8])
