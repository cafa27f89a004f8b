"""Mutation operators: one small, plausible slip on one source line, as a developer makes them.

Operators: comparison flip (`<` to `>=`, `==` to `!=`, `in` to `not in`), arithmetic swap (`+`/`-`,
`*`/`//`), changed constant (`True`/`False`, a number to another), off-by-one (`<` to `<=`, an
index or a `range` bound plus one), removed statement (a single-line statement becomes `pass`) and
swapped arguments (`f(a, b)` to `f(b, a)`). Mutants are found on the syntax tree and spliced into
the line's text, so formatting and comments stay as they were; each must still compile.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterator

OPERATORS = ("comparison_flip", "arithmetic_swap", "changed_constant", "off_by_one", "removed_statement",
             "swapped_arguments")
FLIP = {ast.Lt: ">=", ast.LtE: ">", ast.Gt: "<=", ast.GtE: "<", ast.Eq: "!=", ast.NotEq: "==", ast.Is: "is not",
        ast.IsNot: "is", ast.In: "not in", ast.NotIn: "in"}
BOUNDARY = {ast.Lt: "<=", ast.LtE: "<", ast.Gt: ">=", ast.GtE: ">"}
ARITHMETIC = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "//"), ast.FloorDiv: ("//", "*"),
              ast.Div: ("/", "*"), ast.Mod: ("%", "//")}
OP_TEXT = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is",
           ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}


@dataclass(frozen=True)
class Mutant:
    """One change to one line of `path` (workspace-relative): `old` becomes `new` (whole lines)."""

    path: str
    line: int  # 1-based
    operator: str
    old: str
    new: str
    symbol: str = ""  # the enclosing function or class, as the evidence would name it

    @property
    def key(self) -> str:
        return f"{self.path}:{self.line}:{self.operator}:{self.new.strip()}"

    def apply(self, text: str) -> str:
        lines = text.splitlines(keepends=True)
        current = lines[self.line - 1]
        if current.rstrip("\r\n") != self.old:
            raise ValueError(f"{self.path}:{self.line} is not the line the mutant was made for")
        ending = current[len(self.old):]
        lines[self.line - 1] = self.new + ending
        return "".join(lines)


def _splice(line: str, start: int, end: int, replacement: str) -> str:
    """Replace the UTF-8 byte columns [start, end) of `line` (ast's offsets are in bytes)."""
    raw = line.encode()
    return (raw[:start] + replacement.encode() + raw[end:]).decode()


def _between(line: str, start: int, end: int) -> str:
    return line.encode()[start:end].decode(errors="replace")


def _replace_op(line: str, start: int, end: int, old: str, new: str) -> str | None:
    """Replace the operator `old` in the gap [start, end) between two operands."""
    gap = _between(line, start, end)
    padded = f" {gap} "
    index = padded.find(f" {old} ") if old.isalpha() or " " in old else gap.find(old)
    if old.isalpha() or " " in old:
        if index < 0:
            return None
        gap_new = (padded[:index] + f" {new} " + padded[index + len(old) + 2:])[1:-1]
    else:
        if index < 0 or gap.count(old) != 1:
            return None
        gap_new = gap[:index] + new + gap[index + len(old):]
    return _splice(line, start, end, gap_new)


def _constant(value: object) -> str | None:
    if isinstance(value, bool):
        return repr(not value)
    if isinstance(value, int):
        return "1" if value == 0 else "0" if value == 1 else str(value * 2)
    if isinstance(value, float):
        return repr(value + 1.0)
    return None


class _Finder(ast.NodeVisitor):
    def __init__(self, path: str, lines: list[str], wanted: set[int] | None) -> None:
        self.path, self.lines, self.wanted = path, lines, wanted
        self.symbols: list[str] = []
        self.found: list[Mutant] = []
        self.subscript_ids: set[int] = set()

    def _line_ok(self, node: ast.AST) -> bool:
        line = getattr(node, "lineno", None)
        return line is not None and line == getattr(node, "end_lineno", None) and \
            (self.wanted is None or line in self.wanted)

    def _add(self, node: ast.AST, operator: str, new_line: str | None) -> None:
        old = self.lines[node.lineno - 1]  # type: ignore[attr-defined]
        if new_line is None or new_line == old:
            return
        self.found.append(Mutant(self.path, node.lineno, operator, old, new_line,  # type: ignore[attr-defined]
                                 ".".join(self.symbols)))

    def _scope(self, node: ast.AST, name: str) -> None:
        self.symbols.append(name)
        self.generic_visit(node)
        self.symbols.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scope(node, node.name)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scope(node, node.name)

    def visit_Compare(self, node: ast.Compare) -> None:
        if self._line_ok(node) and len(node.ops) == 1:
            op, line = type(node.ops[0]), self.lines[node.lineno - 1]
            gap = (node.left.end_col_offset or 0, node.comparators[0].col_offset)
            if op in FLIP:
                self._add(node, "comparison_flip", _replace_op(line, *gap, OP_TEXT[op], FLIP[op]))
            if op in BOUNDARY:
                self._add(node, "off_by_one", _replace_op(line, *gap, OP_TEXT[op], BOUNDARY[op]))
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        op = type(node.op)
        if self._line_ok(node) and op in ARITHMETIC:
            old, new = ARITHMETIC[op]
            line = self.lines[node.lineno - 1]
            self._add(node, "arithmetic_swap",
                      _replace_op(line, node.left.end_col_offset or 0, node.right.col_offset, old, new))
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        index = node.slice
        if self._line_ok(node) and isinstance(index, ast.Constant) and type(index.value) is int:
            self.subscript_ids.add(id(index))
            line = self.lines[node.lineno - 1]
            self._add(node, "off_by_one", _splice(line, index.col_offset, index.end_col_offset or 0,
                                                  str(index.value + 1)))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if self._line_ok(node):
            line = self.lines[node.lineno - 1]
            if isinstance(node.func, ast.Name) and node.func.id == "range" and node.args and not node.keywords:
                bound = node.args[-1] if len(node.args) <= 2 else node.args[1]
                self._add(node, "off_by_one", _splice(line, bound.end_col_offset or 0, bound.end_col_offset or 0, " + 1"))
            args = node.args
            if len(args) == 2 and not node.keywords and not any(isinstance(a, ast.Starred) for a in args):
                first = _between(line, args[0].col_offset, args[0].end_col_offset or 0)
                second = _between(line, args[1].col_offset, args[1].end_col_offset or 0)
                if first != second:
                    swapped = _splice(line, args[1].col_offset, args[1].end_col_offset or 0, first)
                    swapped = _splice(swapped, args[0].col_offset, args[0].end_col_offset or 0, second)
                    self._add(node, "swapped_arguments", swapped)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        replacement = _constant(node.value)
        if self._line_ok(node) and replacement is not None and id(node) not in self.subscript_ids:
            line = self.lines[node.lineno - 1]
            self._add(node, "changed_constant", _splice(line, node.col_offset, node.end_col_offset or 0, replacement))

    def generic_visit(self, node: ast.AST) -> None:
        for name in ("body", "orelse", "finalbody"):
            body = getattr(node, name, None)
            if isinstance(body, list):  # `pass` in place of any statement is still valid Python
                for statement in body:
                    if isinstance(statement, (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign)) \
                            and self._line_ok(statement) and not _is_docstring(statement):
                        line = self.lines[statement.lineno - 1]
                        indent = line[:len(line) - len(line.lstrip())]
                        if line.strip() and not line.rstrip().endswith((",", "(", "[", "{", "\\")) and ";" not in line:
                            self._add(statement, "removed_statement", indent + "pass")
        super().generic_visit(node)


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) \
        and isinstance(statement.value.value, str)


def find_mutants(path: str, text: str, lines: set[int] | None = None, check: bool = True) -> list[Mutant]:
    """Every mutant of `text` (the file at `path`) on the given lines (all lines when None) that
    compiles. `check=False` leaves the compile check (a whole-file compile per mutant, slow on big
    files) to `compiles`, for callers that use only a few of them."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    finder = _Finder(path, text.splitlines(), lines)
    finder.visit(tree)
    unique: dict[str, Mutant] = {}
    for mutant in finder.found:
        unique.setdefault(mutant.key, mutant)
    return [m for m in unique.values() if not check or compiles(m, text)]


def compiles(mutant: Mutant, text: str) -> bool:
    try:
        compile(mutant.apply(text), mutant.path, "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def by_operator(mutants: list[Mutant]) -> Iterator[tuple[str, list[Mutant]]]:
    for operator in OPERATORS:
        group = [m for m in mutants if m.operator == operator]
        if group:
            yield operator, group
