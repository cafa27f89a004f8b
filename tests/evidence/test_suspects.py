"""Hunks from changed files: exact text for a revert, visibly cut when too big, flagged when redacted."""

from __future__ import annotations

from pathlib import Path

from companion.evidence.snapshots import Changed
from companion.evidence.suspects import MAX_LINE_CHARS, file_hunks, suspects
from companion.quickfix.regression import revert_diff

OLD = "".join(f"line {n}\n" for n in range(1, 101))


def test_a_hunk_is_a_unified_hunk_with_three_lines_of_context() -> None:
    new = OLD.replace("line 50\n", "line fifty\n").replace("line 90\n", "")
    first, second = file_hunks(OLD, new, "a.txt", 5.0)
    assert first["hunk"] == "@@ -47,7 +47,7 @@\n line 47\n line 48\n line 49\n-line 50\n+line fifty\n line 51\n line 52\n line 53"
    assert (first["line"], first["old_start"], first["old_count"], first["new_count"]) == (50, 47, 7, 7)
    assert (second["line"], second["removed"], second["added"]) == (90, ["line 90"], [])
    assert second["hunk"].startswith("@@ -87,7 +87,6 @@")


def test_the_revert_of_a_hunk_gives_the_old_file_back(tmp_path: Path) -> None:
    """The hunk text is exact: applying its reverse to the new file gives the old one (patch(1))."""
    import subprocess

    long_line = "x = '" + "y" * (3 * MAX_LINE_CHARS) + "'"
    old = OLD.replace("line 30\n", long_line + "\n")
    new = old.replace(long_line, long_line.replace("y", "z", 1))
    [hunk] = file_hunks(old, new, "a.py", 1.0)
    assert len(hunk["removed"][0]) == MAX_LINE_CHARS and hunk["truncated"]  # the list is cut for display ...
    assert long_line in hunk["hunk"]  # ... the hunk text is not
    (tmp_path / "a.py").write_text(new)
    diff = f"--- a/a.py\n+++ b/a.py\n{hunk['hunk']}\n"
    subprocess.run(["patch", "-R", "-p1", "-s"], input=diff, text=True, cwd=tmp_path, check=True)
    assert (tmp_path / "a.py").read_text() == old


def test_a_huge_hunk_is_cut_visibly_and_never_reverted() -> None:
    new = OLD.replace("".join(f"line {n}\n" for n in range(10, 80)), "".join(f"new {n}\n" for n in range(10, 80)))
    [hunk] = file_hunks(OLD, new, "a.txt", 1.0)
    assert hunk["truncated"] and hunk["hunk"].endswith("\n… (hunk cut)") and len(hunk["removed"]) == 20
    assert revert_diff(hunk) == ""


def test_a_hunk_whose_old_lines_were_redacted_is_never_reverted() -> None:
    old = "URL = 'x'\nTOKEN = '[REDACTED:github-token]'\n"
    new = "URL = 'x'\nTOKEN = os.environ['TOKEN']\n"
    [hunk] = file_hunks(old, new, "conf.py", 1.0)
    assert hunk["redacted"] and revert_diff(hunk) == ""
    [plain] = file_hunks("a = 1\n", "a = 2\n", "b.py", 1.0)
    assert "redacted" not in plain and "truncated" not in plain and revert_diff(plain)


def test_suspects_are_newest_first_and_bounded() -> None:
    changes = [Changed(f"f{n}.txt", OLD, OLD.replace("line 5\n", "five\n").replace("line 60\n", "sixty\n"), float(n))
               for n in range(10)]
    changes.append(Changed("img.png", None, None, 99.0, "binary"))
    hunks, unread = suspects(changes)
    assert len(hunks) == 12 and [h["path"] for h in hunks[:4]] == ["f9.txt", "f9.txt", "f8.txt", "f8.txt"]
    assert unread[0] == {"path": "img.png", "note": "binary", "saved_ts": 99.0}
    assert {u["note"] for u in unread[1:]} == {"more changes"}
