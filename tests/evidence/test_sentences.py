"""The evidence in words: events carrying the contract's output, failures and suspects fields."""

from __future__ import annotations

from companion.events import Event
from companion.render import render

GREEN = {"ts": 1.0, "key": "tests:pytest", "kind": "tests"}
PARSER_HUNK = {"path": "src/pkg/_parser.py", "line": 61, "old_start": 58, "old_count": 7, "new_start": 58,
               "new_count": 7, "removed": ['    "\\\\n": "\\u000a",'], "added": ['    "\\\\n": "\\u0009",'],
               "hunk": "@@ -58,7 +58,7 @@", "saved_ts": 2.0}
FAILURE = {"test": "tests/test_data.py::TestData::test_valid", "message": "AssertionError: assert '\\t' == '\\n'",
           "path": "tests/test_data.py", "line": 47, "traceback": "..."}


def _command(evidence: object, command: str = "pytest -x", exit_code: int = 1) -> str:
    return render(Event(source="shell", kind="shell.command", workspace="w", data={
        "command": command, "exit_code": exit_code, "duration_s": 2.2, "dir": ".", "evidence": evidence}))


def test_the_issues_example() -> None:
    assert _command({"failures": [FAILURE], "failure_count": 1, "suspects": [PARSER_HUNK], "green": GREEN}) == (
        "The user ran `pytest -x` in the workspace root; it failed (exit 1) after 2.2 s: "
        "`tests/test_data.py::TestData::test_valid` — AssertionError: assert '\\t' == '\\n' (tests/test_data.py:47). "
        "Since the last passing run, `src/pkg/_parser.py` line 61 changed: "
        '`"\\\\n": "\\u000a",` → `"\\\\n": "\\u0009",`.')


def test_without_failures_the_error_line_of_the_output_is_named() -> None:
    tail = ("Traceback (most recent call last):\n  File \"benchmark/run.py\", line 3, in <module>\n"
            "    import pytomlpp\nModuleNotFoundError: No module named 'pytomlpp'\n\n")
    assert _command({"output": {"tail": tail, "lines": 5}}, "python benchmark/run.py").endswith(
        "after 2.2 s: ModuleNotFoundError: No module named 'pytomlpp'.")
    assert _command({"output": {"tail": "make: *** [all] Error 2\ndone\n"}}, "make").endswith(
        ": make: *** [all] Error 2.")
    assert _command({"output": {"tail": "just a last line\n"}}, "./run").endswith(": just a last line.")


def test_more_failures_and_more_changes_are_counted() -> None:
    other = dict(PARSER_HUNK, path="src/pkg/util.py", line=3, removed=[], added=["import os"])
    same = dict(PARSER_HUNK, line=80, removed=["a"], added=["b"])
    text = _command({"failures": [FAILURE, FAILURE], "failure_count": 7, "suspects": [other, PARSER_HUNK, same],
                     "changed_files": [{"path": "logo.png", "note": "binary", "saved_ts": 1.0}],
                     "green": {"ts": 1.0, "key": "pytest -x", "kind": "command"}})
    assert "(tests/test_data.py:47); 6 other tests failed too." in text
    # the suspect named changed existing lines; the rest are counted
    assert text.endswith("Since it last succeeded, `src/pkg/_parser.py` line 61 changed: "
                         '`"\\\\n": "\\u000a",` → `"\\\\n": "\\u0009",` (and 3 more changes, in 2 other files).')


def test_the_suspect_in_a_file_the_failure_mentions_comes_first() -> None:
    mentioned = dict(PARSER_HUNK, path="src/pkg/cli.py", line=9, removed=[], added=["x = 1"])
    failure = dict(FAILURE, traceback='src/pkg/cli.py:9: in main\n    x = 1')
    text = _command({"failures": [failure], "suspects": [PARSER_HUNK, mentioned], "green": GREEN})
    assert "`src/pkg/cli.py` line 9 was added: `x = 1` (and 1 more change, in 1 other file)." in text


def test_added_removed_created_unread_and_nothing_changed() -> None:
    added = dict(PARSER_HUNK, removed=[], added=["x = 1", "y = 2"])
    removed = dict(PARSER_HUNK, removed=["return x"], added=[])
    created = dict(PARSER_HUNK, path="new.py", line=1, removed=[], added=["import x"], created=True)
    assert _command({"suspects": [added], "green": GREEN}).endswith("line 61 was added: `x = 1`….")
    assert _command({"suspects": [removed], "green": GREEN}).endswith("line 61 was removed: `return x`.")
    assert _command({"suspects": [created], "green": GREEN}).endswith("`new.py` was created: `import x`.")
    unread = [{"path": "data.bin", "note": "binary"}, {"path": ".env", "note": "secret"}]
    assert _command({"suspects": [], "changed_files": unread, "green": GREEN}).endswith(
        "Since the last passing run, these changed: `data.bin` (binary), `.env` (secret).")
    assert _command({"suspects": [], "green": GREEN}).endswith("Nothing in the workspace changed since the last passing run.")
    assert _command({"suspects": [PARSER_HUNK]}).endswith("(exit 1) after 2.2 s.")  # no green: nothing said


def test_odd_evidence_never_breaks_the_sentence() -> None:
    plain = "The user ran `pytest -x` in the workspace root; it failed (exit 1) after 2.2 s."
    for odd in ("text", 3, None, [], {"failures": "x", "suspects": [1, "a"], "green": "g"},
                {"failures": [{}], "output": {"tail": 5}}, {"suspects": [{}], "green": {}}):
        text = _command(odd)
        assert text.startswith(plain[:-1]), (odd, text)
    assert _command({"failures": [FAILURE], "green": GREEN, "suspects": []}, exit_code=0) == (
        "The user ran `pytest -x` in the workspace root; it succeeded after 2.2 s.")


def test_tests_failed_names_the_message_once() -> None:
    text = render(Event(source="tests", kind="tests.failed", workspace="w", data={
        "tests": [FAILURE["test"]], "runner": "pytest", "failing": 1,
        "evidence": {"failures": [FAILURE], "failure_count": 1, "suspects": [PARSER_HUNK], "green": GREEN}}))
    assert text == ("Tests newly failing (pytest): `tests/test_data.py::TestData::test_valid` — AssertionError: "
                    "assert '\\t' == '\\n' (tests/test_data.py:47); 1 test fails now. Since the last passing run, "
                    '`src/pkg/_parser.py` line 61 changed: `"\\\\n": "\\u000a",` → `"\\\\n": "\\u0009",`.')
