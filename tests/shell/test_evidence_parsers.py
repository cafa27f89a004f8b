"""The output and failure parsers on hostile input, and the mark tracker on a stream cut anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from companion.evidence import failures
from companion.evidence.output import MAX_BYTES, RAW_LIMIT, OutputTail, bounded_tail, output_evidence, strip_ansi
from companion.shell.capture import junit_paths
from companion.shell.marks import MarkTracker


def test_strip_ansi_resolves_colours_redraws_backspaces_and_titles():
    noisy = ("\x1b[1;31mError\x1b[0m: bad\r\n"
             "\x1b]0;window title\x07progress  10%\rprogress  55%\rprogress 100%\n"
             "ab\x08\x08cd\n\x1b[?25l\x1b(Bhidden cursor\x1b[K\n\x9b31mc1\x9bm\x00\x01")
    assert strip_ansi(noisy) == "Error: bad\nprogress 100%\ncd\nhidden cursor\nc1"


def test_bounded_tail_keeps_the_last_lines_and_bytes_at_line_starts():
    text = "\n".join(f"line {n}" for n in range(1000))
    tail, cut = bounded_tail(text)
    assert cut and tail.split("\n")[0] == "line 800" and tail.endswith("line 999")
    wide = "\n".join("é" * 1000 for _ in range(150))
    tail, cut = bounded_tail(wide)
    assert cut and len(tail.encode()) <= MAX_BYTES and all(line == "é" * 1000 for line in tail.split("\n"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4000))
def test_any_bytes_give_a_bounded_output_without_error(data):
    evidence = output_evidence(data, "pty")
    assert len(evidence["tail"].encode()) <= MAX_BYTES and evidence["bytes"] == len(data)
    assert "\x1b" not in evidence["tail"]


def test_invalid_utf8_and_binary_are_replaced_not_fatal():
    evidence = output_evidence(b"ok \xff\xfe\xc3 done\n" + os.urandom(2000), "tmux")
    assert evidence["tail"].startswith("ok \ufffd") and evidence["route"] == "tmux"


def test_the_ring_buffer_counts_everything_and_keeps_the_end():
    ring = OutputTail()
    for n in range(100000):
        ring.feed(f"row {n}\n".encode())
    evidence = ring.evidence()
    assert evidence["lines"] == 100000 and evidence["truncated"] is True
    assert evidence["tail"].split("\n")[-1] == "row 99999" and len(evidence["tail"].split("\n")) == 200



def test_the_ring_buffer_holds_little_more_than_the_tail_and_cuts_where_stripping_stays_whole():
    ring = OutputTail()
    for n in range(20000):
        ring.feed(b"\x1b[1;31mred %d\x1b[0m \xe2\x82\xac\n" % n)
        assert len(ring.buffer) <= RAW_LIMIT <= 2 * MAX_BYTES
    tail = ring.evidence()["tail"]
    assert tail.split("\n")[-1] == "red 19999 \u20ac" and "[" not in tail and "\ufffd" not in tail
    for keep in range(50, 90):  # one long line, no line start to cut at: the cut skips what it falls into
        ring = OutputTail(keep=keep, limit=keep)
        ring.feed(b"\x1b[1;31mred\x1b[0m\xe2\x82\xac" * 20)
        assert set(ring.evidence()["tail"]) <= set("red\u20ac") and len(ring.buffer) <= keep


STREAM = (b"\x1b]133;A\x07$ \x1b]133;B\x07make\r\n\x1b]133;C\x07compiling\r\n\x1b[31merror: x\x1b[0m\r\n"
          b"\x1b]133;D;2;cid=s-1\x07\x1b]133;A\x07$ \x1b]133;B\x07ok\r\n\x1b]633;C\x07fine\r\n\x1b]633;D;0;cid=s-2\x1b\\")


def run_tracker(tmp_path: Path, chunks: list[bytes], mode: str = "failed") -> dict[str, dict]:
    tracker = MarkTracker(tmp_path, mode)
    for chunk in chunks:
        tracker.feed(chunk)
    return {p.name: json.loads(p.read_text()) for p in tmp_path.glob("out-*.json")}


def test_the_tracker_keeps_a_failed_commands_output_between_its_marks(tmp_path):
    written = run_tracker(tmp_path, [STREAM])
    assert list(written) == ["out-s-1.json"]
    assert written["out-s-1.json"]["tail"] == "compiling\nerror: x" and written["out-s-1.json"]["exit_code"] == 2
    assert oct((tmp_path / "out-s-1.json").stat().st_mode & 0o777) == oct(0o600)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=12))
def test_marks_cut_across_reads_anywhere_give_the_same_result(tmp_path_factory, cuts):
    folder = tmp_path_factory.mktemp("cuts")
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)])]
    assert run_tracker(folder, chunks, "all") == run_tracker(tmp_path_factory.mktemp("whole"), [STREAM], "all")


def test_the_tracker_ignores_bad_ids_and_missing_starts(tmp_path):
    stream = (b"\x1b]133;D;1;cid=../../x\x07\x1b]133;C\x07out\n\x1b]133;D;1;cid=../evil\x07"
              b"\x1b]133;D;1;cid=never-started\x07\x1b]133;C\x07a\n\x1b]133;A\x07\x1b]133;D;1;cid=prompt-between\x07")
    assert run_tracker(tmp_path, [stream]) == {}


def junit(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "report.xml"
    path.write_text(text)
    return path


def test_junit_from_other_runners_gets_messages_and_locations(tmp_path):
    report = failures.read_junit(junit(tmp_path, """<?xml version="1.0"?>
<testsuites><testsuite name="jest">
 <testcase classname="parser parses" name="numbers" file="src/parse.test.js">
  <failure message="expect(received).toBe(expected)">Error: expect(received).toBe(expected)
    at Object.&lt;anonymous&gt; (/proj/src/parse.test.js:12:5)</failure></testcase>
 <testcase classname="com.acme.CalcTest" name="adds"><error type="java.lang.NullPointerException">java.lang.NullPointerException
	at com.acme.Calc.add(Calc.java:31)</error></testcase>
 <testcase classname="x" name="skipped"><skipped/></testcase>
 <testcase classname="x" name="passes"/>
</testsuite></testsuites>"""), Path("/proj"))
    assert report.failure_count == 2 and report.passing == {"x::passes"}
    jest, java = report.failures
    assert (jest["test"], jest["message"], jest["path"], jest["line"]) == (
        "src/parse.test.js::numbers", "expect(received).toBe(expected)", "src/parse.test.js", 12)
    assert (java["test"], java["path"], java["line"]) == ("com.acme.CalcTest::adds", "Calc.java", 31)
    assert java["message"] == "java.lang.NullPointerException"


def test_half_written_huge_or_foreign_reports_raise_report_error(tmp_path):
    for text in ("<testsuites><testcase name='a'><failure", "not xml at all", "\x00\x01"):
        try:
            failures.read_junit(junit(tmp_path, text))
        except failures.ReportError:
            continue
        raise AssertionError(f"{text!r} was accepted")


def test_the_short_summary_of_a_real_pytest_run(tmp_path):
    (tmp_path / "test_a.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef broken():\n    raise OSError('no db')\n\n"
        "def test_db(broken):\n    pass\n\nclass TestB:\n    def test_eq(self):\n        assert [1] == [2]\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path)],
                            capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTEST_ADDOPTS": ""})
    items, count = failures.parse_short_summary(result.stdout, tmp_path)
    assert count == 2
    by_test = {item["test"]: item for item in items}
    assert by_test["test_a.py::TestB::test_eq"]["message"] == "assert [1] == [2]"
    assert (by_test["test_a.py::TestB::test_eq"]["path"], by_test["test_a.py::TestB::test_eq"]["line"]) == ("test_a.py", 12)
    assert by_test["test_a.py::test_db"]["message"] == "OSError: no db"
    assert (by_test["test_a.py::test_db"]["path"], by_test["test_a.py::test_db"]["line"]) == ("test_a.py", 5)


def test_junit_paths_from_command_lines():
    assert junit_paths("pytest --junitxml=out/r.xml -x") == ["out/r.xml"]
    assert junit_paths("python -m pytest --junit-xml 'my report.xml'") == ["my report.xml"]
    assert junit_paths("pytest 'unbalanced") == []
