"""Shell capture: the hook scripts (package data in `hooks/`), the spool they append to, and the
parsers of shell history files.

The hooks never start Python: one line per command is appended with shell builtins to a spool
file in the companion data folder, and every workspace's daemon tails that file (see
`companion.shell.spool` and `watchers/shell_spool.py`). The same mechanism delivers live while a
daemon runs and keeps everything while none does.
"""
