"""The moments benchmark: does the companion help at real moments in a real repository?

Each moment replays something that happens to developers (a regression the tests catch, a
mistyped command, a merge conflict, a push with no upstream, ... or nothing wrong at all) in a
fresh copy of a real git repository, through the product's own parts: a real daemon (`companion
run`, engine on) with the configured backend and gate, a real interactive bash with the hook,
typed into through a pseudo-terminal. What the companion surfaces is then scored: did it speak up,
did it name something in the evidence, the right place, a fix that works, and did it stay quiet
when nothing was wrong (see `scoring`).

Modules, in the order a run uses them: `repo` (clone a folder or bundle, copy per moment),
`interpreter` (the project's own Python for its tests), `testrun` (a test command with a JUnit
report and coverage contexts), `mutants` (operators on covered lines), `selection` (mutants that
make 1..20 tests fail), `scenarios` and `commands` (the moments and what help each expects),
`terminal` (a hooked bash in a pty), `driver` (one moment end to end), `scoring`, `report`,
`runner` (all moments, in parallel, cleaned up on Ctrl-C).
"""

FAILURE_CATEGORIES = ("regression_hook", "regression_pty", "missing_module", "typo_command", "push_no_upstream",
                      "merge_conflict", "dirty_switch", "syntax_error")
ROUTINE_CATEGORIES = ("routine_tests_pass", "routine_commit", "routine_edits")
CATEGORIES = FAILURE_CATEGORIES + ROUTINE_CATEGORIES
# the set-ups a run compares: the configured one, the model without the rules, the rules without the model
SETUP_NAMES = ("default", "model_only", "rules_only")
