"""Sentences for test results, e.g. "Tests newly failing: `tests/test_api.py::test_login` and 2 more."."""

from __future__ import annotations

from typing import Any, Mapping

from companion.render import listing, plural, renderer
from companion.renderers.evidence import changes_sentence, evidence_of, failure_clause


def _runner(data: Mapping[str, Any]) -> str:
    runner = data.get("runner")
    return f" ({runner})" if runner else ""


def _still(data: Mapping[str, Any]) -> str:
    failing = data.get("failing")
    if not isinstance(failing, int):
        return ""
    return "; no test fails now" if failing == 0 else f"; {plural(failing, 'test')} {'fails' if failing == 1 else 'fail'} now"


@renderer("tests.failed")
def _failed(data: Mapping[str, Any]) -> str:
    evidence = evidence_of(data)
    tests = list(data["tests"])
    failure = failure_clause({"failures": evidence["failures"]}, tuple(tests[:1])) if evidence.get("failures") else ""
    return f"Tests newly failing{_runner(data)}: {listing(tests)}{failure}{_still(data)}.{changes_sentence(evidence)}"


@renderer("tests.fixed")
def _fixed(data: Mapping[str, Any]) -> str:
    return f"Tests fixed{_runner(data)}: {listing(list(data['tests']))}{_still(data)}."
