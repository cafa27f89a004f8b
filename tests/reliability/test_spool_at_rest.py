"""The spool at rest (issue 13, item 5), in the reliability suite: the checks of
tests/shell/test_spool_at_rest.py, imported rather than copied (one place to change them). What
they hold to is docs/shell.md's "What stays at rest": spool segments only until every running
daemon has read them (a segment waits for a stopped daemon whose workspace it holds commands
for, and no longer than the keep time), a blank bash scratch file, no per-command output or
report files left behind."""

from __future__ import annotations

from tests.shell.conftest import open_shell  # noqa: F401  (the fixture)
# every test of that module, whatever it adds or renames, is collected here too
from tests.shell.test_spool_at_rest import *  # noqa: F401,F403
