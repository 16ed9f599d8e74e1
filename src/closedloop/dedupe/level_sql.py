"""A comparison level's SQL condition, as Splink runs it on DuckDB, turned into a Python
predicate over two prepared records: the online check scores with the stored model's own
conditions, not with a copy kept by hand.

The SQL is parsed once (sqlglot, DuckDB dialect) and compiled into nested closures that
follow SQL's three-valued logic (a comparison with a missing value is unknown, and only a
true condition selects a level). The functions are those DuckDB provides, computed by
rapidfuzz (checked against DuckDB on random strings: same Jaro, Jaro-Winkler, Levenshtein and
unrestricted Damerau-Levenshtein). A condition outside this subset raises
:class:`UnsupportedSql` naming it, when the model is loaded.

Columns follow Splink's naming: ``"given_l"`` is the left record's ``given``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rapidfuzz.distance import DamerauLevenshtein, Hamming, Jaro, JaroWinkler, Levenshtein

if TYPE_CHECKING:
    from sqlglot import exp

Rec = dict[str, Any]
#: A compiled expression: (left, right) → value (None is SQL's NULL).
Expr = Callable[[Rec, Rec], Any]
Predicate = Callable[[Rec, Rec], bool]


class UnsupportedSql(ValueError):
    """A level's SQL uses something the online check cannot evaluate."""


def compile_condition(sql: str) -> Predicate:
    """The predicate of a level's ``sql_condition`` (``ELSE`` is always true)."""
    if sql.strip().upper() == "ELSE":
        return _always
    import sqlglot  # loaded when a model is built, never on the import of the online check

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise UnsupportedSql(f"cannot read the level condition {sql!r}: {exc}") from exc
    expr = _compile(tree, sql)
    return lambda left, right: expr(left, right) is True


def _always(left: Rec, right: Rec) -> bool:
    return True


def _compile(node: exp.Expression, sql: str) -> Expr:
    from sqlglot import exp

    handler = _handlers().get(type(node))
    if handler is not None:
        return handler(node, sql)
    if isinstance(node, exp.Anonymous):
        name = str(node.this).lower()
        fn = _FUNCTIONS.get(name)
        if fn is None:
            raise UnsupportedSql(f"function {name}() in {sql!r} is not supported online")
        args = [_compile(a, sql) for a in node.expressions]
        return _call(fn, args)
    raise UnsupportedSql(f"{node.sql(dialect='duckdb')!r} in {sql!r} is not supported online")


def _call(fn: Callable[..., Any], args: list[Expr]) -> Expr:
    def run(left: Rec, right: Rec) -> Any:
        values = [a(left, right) for a in args]
        return None if any(v is None for v in values) else fn(*values)

    return run


def _column(node: exp.Column, sql: str) -> Expr:
    name = node.name
    if name.endswith("_l"):
        key = name[:-2]
        return lambda left, right: left.get(key)
    if name.endswith("_r"):
        key = name[:-2]
        return lambda left, right: right.get(key)
    raise UnsupportedSql(f"column {name!r} in {sql!r} is neither a left (_l) nor a right (_r) one")


def _literal(node: exp.Literal, sql: str) -> Expr:
    text = str(node.this)
    value: Any = (
        text if node.is_string else int(text) if text.lstrip("-").isdigit() else float(text)
    )
    return lambda left, right: value


def _binary(op: Callable[[Any, Any], Any]) -> Callable[[Any, str], Expr]:
    def build(node: Any, sql: str) -> Expr:
        return _call(op, [_compile(node.this, sql), _compile(node.expression, sql)])

    return build


def _and(node: Any, sql: str) -> Expr:
    a, b = _compile(node.this, sql), _compile(node.expression, sql)

    def run(left: Rec, right: Rec) -> bool | None:
        x = a(left, right)
        if x is False:
            return False
        y = b(left, right)
        if y is False:
            return False
        return None if x is None or y is None else True

    return run


def _or(node: Any, sql: str) -> Expr:
    a, b = _compile(node.this, sql), _compile(node.expression, sql)

    def run(left: Rec, right: Rec) -> bool | None:
        x = a(left, right)
        if x is True:
            return True
        y = b(left, right)
        if y is True:
            return True
        return None if x is None or y is None else False

    return run


def _not(node: Any, sql: str) -> Expr:
    inner = _compile(node.this, sql)

    def run(left: Rec, right: Rec) -> bool | None:
        x = inner(left, right)
        return None if x is None else not x

    return run


def _is(node: Any, sql: str) -> Expr:
    from sqlglot import exp

    if not isinstance(node.expression, exp.Null):
        raise UnsupportedSql(f"IS other than IS NULL in {sql!r} is not supported online")
    inner = _compile(node.this, sql)
    return lambda left, right: inner(left, right) is None


def _case(node: Any, sql: str) -> Expr:
    branches = [(_compile(i.this, sql), _compile(i.args["true"], sql)) for i in node.args["ifs"]]
    default = node.args.get("default")
    otherwise = _compile(default, sql) if default is not None else (lambda left, right: None)

    def run(left: Rec, right: Rec) -> Any:
        for cond, value in branches:
            if cond(left, right) is True:
                return value(left, right)
        return otherwise(left, right)

    return run


def _substring(node: Any, sql: str) -> Expr:
    text = _compile(node.this, sql)
    start = _compile(node.args["start"], sql) if node.args.get("start") else None
    length = _compile(node.args["length"], sql) if node.args.get("length") else None

    def run(left: Rec, right: Rec) -> str | None:
        value = text(left, right)
        first = start(left, right) if start else 1
        count = length(left, right) if length else None
        if value is None or first is None or (length and count is None):
            return None
        begin = max(int(first) - 1, 0)  # SQL counts from 1
        return str(value)[begin:] if count is None else str(value)[begin : begin + int(count)]

    return run


def _hamming(a: str, b: str) -> int | None:
    # DuckDB refuses strings of different lengths; unknown here, so the level is not taken.
    return int(Hamming.distance(a, b)) if len(a) == len(b) else None


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "jaro_winkler_similarity": lambda a, b: JaroWinkler.similarity(str(a), str(b)),
    "jaro_similarity": lambda a, b: Jaro.similarity(str(a), str(b)),
    "damerau_levenshtein": lambda a, b: DamerauLevenshtein.distance(str(a), str(b)),
    "levenshtein": lambda a, b: Levenshtein.distance(str(a), str(b)),
    "hamming": lambda a, b: _hamming(str(a), str(b)),
    "contains": lambda a, b: str(b) in str(a),
    "length": lambda a: len(str(a)),
}


@lru_cache(maxsize=1)
def _handlers() -> dict[type[Any], Callable[[Any, str], Expr]]:
    from sqlglot import exp

    return {
        exp.Column: _column,
        exp.Literal: _literal,
        exp.Boolean: lambda node, sql: lambda left, right: bool(node.this),
        exp.Null: lambda node, sql: lambda left, right: None,
        exp.Paren: lambda node, sql: _compile(node.this, sql),
        exp.EQ: _binary(lambda a, b: a == b),
        exp.NEQ: _binary(lambda a, b: a != b),
        exp.GT: _binary(lambda a, b: a > b),
        exp.GTE: _binary(lambda a, b: a >= b),
        exp.LT: _binary(lambda a, b: a < b),
        exp.LTE: _binary(lambda a, b: a <= b),
        exp.And: _and,
        exp.Or: _or,
        exp.Not: _not,
        exp.Is: _is,
        exp.Case: _case,
        exp.Substring: _substring,
        exp.Contains: _binary(_FUNCTIONS["contains"]),
        exp.Levenshtein: _binary(_FUNCTIONS["levenshtein"]),
        exp.Length: lambda node, sql: _call(_FUNCTIONS["length"], [_compile(node.this, sql)]),
        exp.Lower: lambda node, sql: _call(lambda s: str(s).lower(), [_compile(node.this, sql)]),
        exp.Upper: lambda node, sql: _call(lambda s: str(s).upper(), [_compile(node.this, sql)]),
    }


def exact_match_column(sql: str) -> str | None:
    """The column a level compares for plain equality (``"x_l" = "x_r"``), else None: the
    level whose u the term-frequency adjustment of that column is measured against."""
    if sql.strip().upper() == "ELSE":
        return None
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError:
        return None
    while isinstance(tree, exp.Paren):
        tree = tree.this
    if not isinstance(tree, exp.EQ):
        return None
    a, b = tree.this, tree.expression
    if not (isinstance(a, exp.Column) and isinstance(b, exp.Column)):
        return None
    names = sorted((a.name, b.name))
    if names[0].endswith("_l") and names[1].endswith("_r") and names[0][:-2] == names[1][:-2]:
        return names[0][:-2]
    return None


__all__ = ["Predicate", "UnsupportedSql", "compile_condition", "exact_match_column"]
