"""Quick fixes: rules that turn a failure's evidence into concrete candidates (open this line, revert
this hunk, run this install command), like VS Code's terminal quick fixes and thefuck's rules.

One module per family of rules; a module's `@rule` functions are found by iterating this package
(`discover`), so a new family is one new module and there is no central list. Users add their own
rules in the config (`[[quickfix.rules]]`, see docs/quickfix.md and `companion.quickfix.user`).

`RuleBook.candidates(moment)` runs every rule that applies, best first. A rule that raises is
logged once and switched off for the rest of the session; the others go on.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from typing import Any, Iterable

from companion.quickfix.base import Candidate, Moment, Rule, rule

log = logging.getLogger(__name__)
NOT_RULES = ("base", "user")  # helpers, not families of built-in rules
MAX_CANDIDATES = 8

__all__ = ["Candidate", "Moment", "Rule", "RuleBook", "discover", "rule"]


def discover() -> list[Rule]:
    """Every built-in rule of this package, module by module in name order."""
    import companion.quickfix as package

    found: list[Rule] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name in NOT_RULES or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found.extend(value for value in vars(module).values() if isinstance(value, Rule))
    return found


class RuleBook:
    """The session's rules (built-in and the user's), with the ones switched off after a crash."""

    def __init__(self, rules: Iterable[Rule] | None = None, disabled: Iterable[str] = ()) -> None:
        self.rules = list(discover() if rules is None else rules)
        self.off: dict[str, str] = {rule_id: "switched off in the config" for rule_id in disabled}

    @classmethod
    def from_config(cls, config: Any) -> "RuleBook":
        from companion.quickfix.user import user_rules

        section = getattr(config, "quickfix", None)
        user = user_rules(getattr(section, "rules", []) or [], origin="config")
        return cls(discover() + user, disabled=getattr(section, "disabled", []) or [])

    def candidates(self, moment: Moment) -> list[Candidate]:
        """The candidates of every rule that applies, best first, without duplicates."""
        found: list[Candidate] = []
        for item in self.rules:
            if item.id in self.off or not item.applies(moment):
                continue
            try:
                found.extend(item(moment))
            except Exception as exc:  # one broken rule must not silence the others, nor the daemon
                self.off[item.id] = f"{type(exc).__name__}: {exc}"
                log.exception("quick-fix rule %s failed; it is switched off for this session", item.id)
        found.sort(key=lambda c: -c.confidence)
        unique: list[Candidate] = []
        seen: set[tuple[Any, ...]] = set()
        for candidate in found:
            if candidate.key() not in seen:
                seen.add(candidate.key())
                unique.append(candidate)
        return unique[:MAX_CANDIDATES]

    def status(self) -> dict[str, Any]:
        return {"rules": len(self.rules), "off": dict(self.off)}
