"""What a save says about its content: Python symbols, hunks, TODOs; and when content is withheld."""

from __future__ import annotations

from pathlib import Path

from watchers.changes import summarize

BEFORE = '''import os


def helper(x):
    return x + 1


class Client:
    """A client."""

    def connect(self):
        return os.getcwd()

    def close(self):
        pass

    class Retry:
        def wait(self):
            return 1


def retry(times):
    for _ in range(times):
        helper(1)
'''


def test_python_summary_names_the_touched_functions_and_methods() -> None:
    after = BEFORE.replace("return os.getcwd()", "return os.getcwd() or '/'") \
                  .replace("            return 1", "            return 2") \
                  .replace("        helper(1)\n", "        helper(2)\n    # FIXME: back off\n")
    summary = summarize(BEFORE, after, "api/client.py")
    assert summary["symbols"] == ["Client.connect", "Client.Retry.wait", "retry"]
    assert summary["lines_added"] == 4 and summary["lines_removed"] == 3
    assert summary["todos_added"] == ["FIXME: back off"]


def test_python_summary_reports_deleted_and_added_definitions() -> None:
    without_close = BEFORE.replace("    def close(self):\n        pass\n\n", "")
    summary = summarize(BEFORE, without_close + "\n\nasync def fetch():\n    return None\n", "client.py")
    assert summary["symbols"] == ["fetch", "Client.close"]


def test_python_that_does_not_parse_still_gets_counts_and_hunks() -> None:
    summary = summarize(BEFORE, BEFORE.replace("def retry(times):", "def retry(times)"), "client.py")
    assert summary["syntax_error"] is True
    assert summary["lines_added"] == 1 and summary["lines_removed"] == 1
    assert summary["symbols"] == ["retry"]  # known from the previous version
    assert summary["hunks"] == ["@@ -19,6 +19,6 @@ class Client:"]


def test_other_text_gets_hunk_headers_with_the_function_line() -> None:
    old = "package main\n\nfunc main() {\n\tfmt.Println(1)\n\tfmt.Println(2)\n\tfmt.Println(3)\n\tfmt.Println(4)\n}\n"
    new = old.replace("Println(4)", "Println(5)")
    summary = summarize(old, new, "main.go")
    assert summary["hunks"] == ["@@ -4,5 +4,5 @@ func main() {"]
    assert "symbols" not in summary


def test_go_save_renders_where_it_changed(workspace: Path, watch) -> None:
    target = workspace / "main.go"
    w = watch(workspace)
    target.write_text("package main\n\nfunc main() {\n\tprintln(1)\n\tprintln(2)\n\tprintln(3)\n\tprintln(4)\n}\n")
    w.wait_for("file.created", "main.go")
    w.settle()
    target.write_text("package main\n\nfunc main() {\n\tprintln(1)\n\tprintln(2)\n\tprintln(3)\n\tprintln(9)\n}\n")
    saved = w.wait_for("file.saved", "main.go")
    assert saved["text"] == "The user saved `main.go` (+1 −1 lines) in 1 place near `func main() {`."


def test_binary_file_gives_an_event_without_content(workspace: Path, watch) -> None:
    w = watch(workspace)
    (workspace / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    created = w.wait_for("file.created", "logo.png")
    assert created["content_skipped"] == "binary"
    assert "lines" not in created and "hunks" not in created
    assert created["text"] == "The user created `logo.png` (binary, 272 bytes)."


def test_file_over_the_size_limit_is_not_read(workspace: Path, watch) -> None:
    w = watch(workspace, max_file_bytes=2000)
    (workspace / "dump.sql").write_text("INSERT INTO t VALUES (1);\n" * 200)
    created = w.wait_for("file.created", "dump.sql")
    assert created["content_skipped"] == "too large" and created["size"] == 5200
    assert created["text"] == "The user created `dump.sql` (too large to read, 5.2 KB)."


def test_secret_files_are_never_read(workspace: Path, watch) -> None:
    (workspace / ".env").write_text("API_TOKEN=first\n")
    w = watch(workspace)
    (workspace / ".env").write_text("API_TOKEN=supersecretvalue\nTODO: rotate\n")
    (workspace / "server.pem").write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")
    saved = w.wait_for("file.saved", ".env")
    created = w.wait_for("file.created", "server.pem")
    for event in (saved, created):
        assert event["content_skipped"] == "secret"
        assert set(event) <= {"kind", "path", "content_skipped", "size", "text"}
    assert saved["text"] == "The user saved `.env` (a secret file, not read, 40 bytes)."


def test_invalid_utf8_is_decoded_with_replacements(workspace: Path, watch) -> None:
    w = watch(workspace)
    (workspace / "latin1.txt").write_bytes("café au lait\nnaïve\n".encode("latin-1"))
    created = w.wait_for("file.created", "latin1.txt")
    assert created["encoding_errors"] is True and created["lines"] == 2
    (workspace / "latin1.txt").write_bytes("café au lait\nnaïve\nrésumé\n".encode("latin-1"))
    saved = w.wait_for("file.saved", "latin1.txt")
    assert saved["lines_added"] == 1 and saved["lines_removed"] == 0


def test_long_repetitive_file_is_summarised_exactly() -> None:
    # 16,000 lines where blank lines and `return x + 1` repeat thousands of times (difflib without
    # its junk heuristic needed minutes for this)
    old = "".join(f"def f{i}(x):\n    return x + 1\n\n\n" for i in range(4000))
    new = old.replace("def f2000(x):\n    return x + 1", "def f2000(x):\n    return x + 2") \
             .replace("def f10(x):\n    return x + 1", "def f10(x):\n    return x * 2")
    summary = summarize(old, new, "generated.py")
    assert summary["symbols"] == ["f10", "f2000"]
    assert summary["lines_added"] == 2 and summary["lines_removed"] == 2
    assert summary["hunks"] == ["@@ -39,7 +39,7 @@ def f9(x):", "@@ -7999,7 +7999,7 @@ def f1999(x):"]
