"""The regression, traceback, SyntaxError and compiler rules on real pytest, python and gcc output."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from companion.evidence.failures import read_junit
from companion.evidence.suspects import file_hunks
from companion.patching import apply
from tests.quickfix.conftest import PYTHON, by_rule, candidates, command_event, sh, with_evidence

PARSER = """\
ESCAPES = {
    "\\\\b": "\\u0008",
    "\\\\t": "\\u0009",
    "\\\\n": "\\u000a",
    "\\\\f": "\\u000c",
}


def unescape(text):
    for escaped, char in ESCAPES.items():
        text = text.replace(escaped, char)
    return text
"""
TEST = """\
from pkg._parser import unescape


def test_linefeed():
    assert unescape("a\\\\nb") == "a\\nb"


def test_tab():
    assert unescape("a\\\\tb") == "a\\tb"
"""


def suspects_between(path: str, old: str, new: str, saved_ts: float = 1.0) -> list[dict[str, Any]]:
    """What the changes helper records since the last green run (companion.evidence.suspects)."""
    return file_hunks(old, new, path, saved_ts)


def junit_failures(report: Path) -> list[dict[str, Any]]:
    """The failures of a real pytest JUnit report, as the capture helper reads them."""
    return read_junit(report, report.parent).failures


@pytest.fixture
def project(ws: Path) -> Path:
    (ws / "src" / "pkg").mkdir(parents=True)
    (ws / "src" / "pkg" / "__init__.py").write_text("")
    (ws / "src" / "pkg" / "_parser.py").write_text(PARSER)
    (ws / "src" / "pkg" / "other.py").write_text("VALUE = 1\n")
    (ws / "tests").mkdir()
    (ws / "tests" / "test_parser.py").write_text(TEST)
    return ws


def test_regression_reverts_the_suspect_hunk_and_the_tests_pass_again(project: Path) -> None:
    run = f"PYTHONPATH=src {PYTHON} -m pytest -q -p no:cacheprovider tests --junitxml=report.xml -o junit_family=xunit1"
    assert sh(project, run).returncode == 0  # green
    parser = project / "src" / "pkg" / "_parser.py"
    broken = PARSER.replace('"\\\\n": "\\u000a"', '"\\\\n": "\\u0009"')
    other_old = "VALUE = 1\n"
    (project / "src" / "pkg" / "other.py").write_text("VALUE = 2\n")  # an unrelated change, saved later
    parser.write_text(broken)
    suspects = suspects_between("src/pkg/other.py", other_old, "VALUE = 2\n", 3.0) + \
        suspects_between("src/pkg/_parser.py", PARSER, broken, 2.0)
    event = command_event(project, run)
    assert event.data["exit_code"] == 1
    failures = junit_failures(project / "report.xml")
    assert failures and failures[0]["test"].endswith("test_linefeed")
    event = with_evidence(event, failures=failures, failure_count=len(failures), suspects=suspects,
                          green={"ts": 1.0, "key": run, "kind": "command"})
    found = candidates(project, event)
    best = found[0]
    assert best.rule == "regression.revert" and best.operation == "edit"
    assert best.path == "src/pkg/_parser.py" and best.line == 4
    assert best.task == "Revert the change to src/pkg/_parser.py line 4 that broke test_linefeed"
    assert best.evidence["failure"]["message"].startswith("AssertionError")  # the failing assertion is the why
    opens = [c for c in by_rule(found, "regression.revert") if c.operation == "open"]
    assert opens and opens[0].path == "src/pkg/_parser.py" and opens[0].line == 4
    apply(project, best.response, best.path)
    assert parser.read_text() == PARSER
    assert sh(project, run).returncode == 0  # the proposed revert makes the failing tests pass


def test_a_revert_that_no_longer_applies_is_not_offered(project: Path) -> None:
    parser = project / "src" / "pkg" / "_parser.py"
    broken = PARSER.replace('"\\\\n": "\\u000a"', '"\\\\n": "\\u0009"')
    suspects = suspects_between("src/pkg/_parser.py", PARSER, broken)
    parser.write_text(broken.replace("ESCAPES", "TABLE"))  # edited again since: the hunk's context is gone
    event = command_event(project, f"PYTHONPATH=src {PYTHON} -m pytest -q -p no:cacheprovider tests",
                          suspects=suspects)
    found = by_rule(candidates(project, event), "regression.revert")
    assert [c.operation for c in found] == ["open"]


def test_a_traceback_opens_its_innermost_frame_in_the_project(ws: Path) -> None:
    (ws / "app").mkdir()
    (ws / "app" / "__init__.py").write_text("")
    (ws / "app" / "core.py").write_text("import json\n\n\ndef load(text):\n    return json.loads(text)['key']\n")
    (ws / "main.py").write_text("from app.core import load\n\nprint(load('{}'))\n")
    event = command_event(ws, f"{PYTHON} main.py")
    best = by_rule(candidates(ws, event), "traceback.frame")[0]
    assert (best.path, best.line, best.operation) == ("app/core.py", 5, "open")
    assert "KeyError: 'key'" in best.evidence["output_lines"][0]


def test_syntax_and_indentation_errors_open_at_the_line(ws: Path) -> None:
    (ws / "bad.py").write_text("x = 1\nif x:\nprint(x)\n")
    best = candidates(ws, command_event(ws, f"{PYTHON} bad.py"))[0]
    assert best.rule == "traceback.syntax_error" and (best.path, best.line) == ("bad.py", 3)
    assert best.task.startswith("Fix the IndentationError in bad.py line 3")
    (ws / "worse.py").write_text("def f(:\n    pass\n")
    best = candidates(ws, command_event(ws, f"{PYTHON} worse.py"))[0]
    assert best.rule == "traceback.syntax_error" and (best.path, best.line) == ("worse.py", 1)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_a_compiler_error_opens_its_path_and_line(ws: Path) -> None:
    (ws / "main.c").write_text("int main(void) {\n    return undefined_name;\n}\n")
    event = command_event(ws, "gcc -c main.c -o main.o")
    best = by_rule(candidates(ws, event), "traceback.compiler")[0]
    assert (best.path, best.line) == ("main.c", 2) and "undefined_name" in best.response


def test_a_failing_test_without_suspects_opens_the_failure(project: Path) -> None:
    run = f"PYTHONPATH=src {PYTHON} -m pytest -q -p no:cacheprovider tests --junitxml=r.xml -o junit_family=xunit1"
    (project / "tests" / "test_parser.py").write_text(TEST.replace('== "a\\tb"', '== "a b"'))
    event = command_event(project, run)
    event = with_evidence(event, failures=junit_failures(project / "r.xml"))
    best = by_rule(candidates(project, event), "traceback.failing_test")[0]
    assert best.path == "tests/test_parser.py" and best.line == 9 and "test_tab" in best.task


def test_a_syntax_error_in_pytests_junit_report_opens_the_line(project: Path) -> None:
    parser = project / "src" / "pkg" / "_parser.py"
    parser.write_text(PARSER.replace("def unescape(text):", "def unescape(text)"))
    run = f"PYTHONPATH=src {PYTHON} -m pytest -q -p no:cacheprovider tests --junitxml=r.xml -o junit_family=xunit1"
    event = command_event(project, run)
    bare = with_evidence(event, output={"tail": ""}, failures=junit_failures(project / "r.xml"))  # the hook route
    best = candidates(project, bare)[0]
    assert best.rule == "traceback.syntax_error" and (best.path, best.line) == ("src/pkg/_parser.py", 9)


def test_without_a_green_run_the_uncommitted_change_the_failure_points_at_is_the_suspect(project: Path) -> None:
    sh(project, "git init -q -b main . && git add -A && git -c user.name=t -c user.email=t@e commit -qm base", check=True)
    parser = project / "src" / "pkg" / "_parser.py"
    parser.write_text(PARSER.replace('"\\\\n": "\\u000a"', '"\\\\n": "\\u0009"'))
    (project / "README.md").write_text("unrelated uncommitted edit\n")
    run = f"PYTHONPATH=src {PYTHON} -m pytest -q -p no:cacheprovider tests --junitxml=r.xml -o junit_family=xunit1"
    event = with_evidence(command_event(project, run), failures=junit_failures(project / "r.xml"))
    best = candidates(project, event)[0]
    assert best.rule == "regression.revert" and best.operation == "edit" and (best.path, best.line) == ("src/pkg/_parser.py", 4)
    assert best.evidence["suspect"]["since"] == "commit"
    apply(project, best.response, best.path)
    assert sh(project, run).returncode == 0
    parser.write_text(PARSER)
    event = with_evidence(command_event(project, f"{PYTHON} -c 'raise SystemExit(1)'"))
    assert not by_rule(candidates(project, event), "regression.revert")  # README.md is no suspect of that


C_SOURCE = """\
#include <stdio.h>
#define LIMIT 10

/* Count up to the limit. */
int count(int *p) {
    // start at zero
    *p = 0;
    return LIMIT;
}
"""


@pytest.mark.parametrize(("path", "old", "new", "expected"), [
    ("src/pkg/_parser.py", PARSER, PARSER.replace("ESCAPES = {", "# the escapes pytest checks\nESCAPES = {"), True),
    ("src/pkg/_parser.py", PARSER, PARSER.replace("\n\ndef unescape", "\n\n\ndef unescape"), True),  # a blank line
    ("src/pkg/_parser.py", PARSER, PARSER.replace("ESCAPES = {", "ESCAPES = {  # noqa: E501"), False),  # code line
    ("src/pkg/_parser.py", PARSER, PARSER.replace("ESCAPES = {", "# noqa\nESCAPES = {"), False),  # a directive
    ("src/pkg/_parser.py", PARSER, PARSER.replace('"\\\\n": "\\u000a"', '"\\\\n": "\\u0009"'), False),
    ("src/pkg/_parser.py", PARSER, PARSER.replace("def unescape(text):\n", 'def unescape(text):\n    """# not a comment."""\n'),
     False),  # a docstring is no comment
    ("tools/run.sh", "#!/bin/sh\necho hi\n", "#!/bin/bash\necho hi\n", False),  # the shebang acts
    ("conf.yaml", "a: 1\nb: 2\n", "a: 1\n# b is the second\nb: 2\n", True),
    ("README.md", "# Title\ntext\n", "# New title\ntext\n", False),  # no known comments in Markdown
    ("notes.txt", "a\nb\n", "a\n\nb\n", False),
    ("src/count.c", C_SOURCE, C_SOURCE.replace("// start at zero", "// start at zero, always"), True),
    ("src/count.c", C_SOURCE, C_SOURCE.replace("/* Count up to the limit. */",
                                               "/*\n * Count up to the limit,\n * which is LIMIT.\n */"), True),
    ("src/count.c", C_SOURCE, C_SOURCE.replace("#define LIMIT 10", "#define LIMIT 11"), False),  # `#` is code in C
    ("src/count.c", C_SOURCE, C_SOURCE.replace("*p = 0;", "*p = 1;"), False),  # a `*` line is no comment
    ("src/count.c", C_SOURCE, C_SOURCE.replace("/* Count up to the limit. */", "/* Count */ static int n;"), False),
    ("web/app.ts", "const a = 1;\nexport { a };\n", "// eslint-disable-next-line\nconst a = 1;\nexport { a };\n", False),
    ("web/app.ts", "const a = 1;\nexport { a };\n", "// the answer\nconst a = 1;\nexport { a };\n", True),
    ("main.go", "package main\n\nfunc main() {}\n", "//go:build linux\n\npackage main\n\nfunc main() {}\n", False),
    ("src/lib.rs", "pub fn f() {}\n", "/// ```\n/// assert!(false);\n/// ```\npub fn f() {}\n", False),  # doctests
    ("src/lib.rs", "pub fn f() {}\n", "// helper\npub fn f() {}\n", True),
])
def test_comment_only_hunks_are_told_from_code_by_file_type(path: str, old: str, new: str, expected: bool) -> None:
    from companion.quickfix.regression import comment_only

    [hunk] = suspects_between(path, old, new)
    assert comment_only(hunk) is expected


def test_a_comment_only_hunk_ranks_below_the_code_change_and_is_never_reverted(project: Path) -> None:
    """The user broke `_parser.py`, then added a comment next to the failing assertion (the newest
    change, inside the traceback's lines, in the failing test's own file): the code change is the
    suspect; a failure with only the comment changed gets no revert."""
    from companion.quickfix import Moment
    from companion.quickfix.regression import rank

    run = f"PYTHONPATH=src {PYTHON} -m pytest -q -p no:cacheprovider tests --junitxml=report.xml -o junit_family=xunit1"
    assert sh(project, run).returncode == 0  # green
    parser, test = project / "src" / "pkg" / "_parser.py", project / "tests" / "test_parser.py"
    broken = PARSER.replace('"\\\\n": "\\u000a"', '"\\\\n": "\\u0009"')
    commented = TEST.replace('    assert unescape("a\\\\nb")', '    # a linefeed\n    assert unescape("a\\\\nb")')
    parser.write_text(broken)
    test.write_text(commented)
    suspects = suspects_between("tests/test_parser.py", TEST, commented, 3.0) + \
        suspects_between("src/pkg/_parser.py", PARSER, broken, 2.0)
    event = command_event(project, run)
    failures = junit_failures(project / "report.xml")
    event = with_evidence(event, failures=failures, failure_count=len(failures), suspects=suspects,
                          green={"ts": 1.0, "key": run, "kind": "command"})
    ranked = rank(Moment("failed_command", event, project))
    assert [s["path"] for _score, s in ranked] == ["src/pkg/_parser.py", "tests/test_parser.py"]
    best = candidates(project, event)[0]
    assert best.rule == "regression.revert" and best.operation == "edit" and best.path == "src/pkg/_parser.py"

    event = with_evidence(event, suspects=suspects[:1])  # only the comment changed since it passed
    found = by_rule(candidates(project, event), "regression.revert")
    assert [(c.operation, c.path, c.confidence) for c in found] == [("open", "tests/test_parser.py", 0.5)]
    assert "(only comments)" in found[0].response


def test_a_comment_added_beside_a_docstring_is_comment_only_by_pythons_tokenizer() -> None:
    """A decoy comment added above a function with a docstring (idna's intranges.py in the moments
    benchmark): the hunk holds triple quotes, so the text alone cannot tell; the saved file's tokens
    can. A `#` line added inside a docstring stays code."""
    from companion.quickfix.regression import comment_only

    source = ('def f():\n    return 1\n\n\n# Kept small on purpose (1).\ndef g(x):\n    """Doc with # hash.\n'
              '    # not a comment\n    """\n    return x\n')
    hunk = ('@@ -2,6 +2,7 @@\n     return 1\n \n \n+# Kept small on purpose (1).\n def g(x):\n'
            '     """Doc with # hash.\n     # not a comment')
    decoy = {"path": "pkg/a.py", "line": 5, "added": ["# Kept small on purpose (1)."], "removed": [], "hunk": hunk}
    assert not comment_only(decoy)  # without the file: unknown, so not comment-only
    assert comment_only(decoy, source)
    inside = {"path": "pkg/a.py", "line": 3, "added": ["    # inside"], "removed": [],
              "hunk": '@@ -1,4 +1,5 @@\n def g(x):\n     """Doc\n+    # inside\n     """\n     return x'}
    assert not comment_only(inside, 'def g(x):\n    """Doc\n    # inside\n    """\n    return x\n')
    stale = dict(decoy, hunk=hunk.replace("(1)", "(2)"))  # the file no longer holds that line there
    assert not comment_only(stale, source)
    assert not comment_only(decoy, "def broken(:\n")  # a file that does not tokenize: unknown
