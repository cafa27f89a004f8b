"""The mutation operators on real source text: each makes the slip it names, on the line it names,
and every mutant still compiles."""

from __future__ import annotations

import pytest

from companion.moments.mutants import OPERATORS, Mutant, find_mutants
from tests.moments.conftest import CALC


def mutants_of(operator: str) -> list[Mutant]:
    return [m for m in find_mutants("calc/__init__.py", CALC) if m.operator == operator]


def changes(operator: str) -> set[tuple[str, str]]:
    return {(m.old.strip(), m.new.strip()) for m in mutants_of(operator)}


def test_every_operator_finds_its_slip():
    assert ("if value < low:", "if value >= low:") in changes("comparison_flip")
    assert ("return a + b", "return a - b") in changes("arithmetic_swap")
    assert ("total = 0", "total = 1") in changes("changed_constant")
    assert ("if value < low:", "if value <= low:") in changes("off_by_one")
    assert ("total += value", "pass") in changes("removed_statement")
    assert ("return total / len(values)", "return total * len(values)") in changes("arithmetic_swap")
    assert set(OPERATORS) - {"swapped_arguments"} <= {m.operator for m in find_mutants("calc/__init__.py", CALC)}


def test_swapped_arguments_and_index_off_by_one():
    text = "def pick(items, first, second):\n    pair = divmod(first, second)\n    return items[0], pair\n"
    found = {(m.operator, m.new.strip()) for m in find_mutants("pick.py", text)}
    assert ("swapped_arguments", "pair = divmod(second, first)") in found
    assert ("off_by_one", "return items[1], pair") in found


def test_mutants_know_their_function_compile_and_apply_only_to_their_line():
    for mutant in find_mutants("calc/__init__.py", CALC):
        mutated = mutant.apply(CALC)
        compile(mutated, mutant.path, "exec")
        before, after = CALC.splitlines(), mutated.splitlines()
        assert [i + 1 for i, (a, b) in enumerate(zip(before, after)) if a != b] == [mutant.line]
    assert {m.symbol for m in mutants_of("comparison_flip")} == {"clamp"}
    with pytest.raises(ValueError):
        mutants_of("comparison_flip")[0].apply(CALC.replace("if value < low:", "if value < low:  # moved"))


def test_only_the_asked_lines_and_nothing_from_a_file_that_does_not_parse():
    clamp_line = CALC.splitlines().index("    if value < low:") + 1
    assert {m.line for m in find_mutants("calc/__init__.py", CALC, {clamp_line})} == {clamp_line}
    assert find_mutants("broken.py", "def f(:\n") == []
    docstring_only = '"""Just a docstring."""\n'
    assert find_mutants("doc.py", docstring_only) == []
