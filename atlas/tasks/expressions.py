"""Arithmetic expressions in task declarations, evaluated without `eval`.

A declaration says "f2 starts at f2_onset + delay" as text; users send declarations over
HTTP, so the text is parsed with `ast` and only arithmetic, comparisons, `and`/`or`/`not`,
names and a few functions are accepted. Names are parameters (scalars) or trial variables
(one value per trial): every operation works elementwise on numpy arrays, so one evaluation
gives the value for every trial of a set.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import numpy as np

Value = Any  # a Python number or a numpy array of them
Expression = int | float | str

MAX_LENGTH = 400
"""Characters an expression may have: a declaration's numbers are short formulas."""
MAX_EXPONENT = 64


def _power(base: Value, exponent: Value) -> Value:
    """base ** exponent, refused for exponents that would make numbers of unbounded size."""
    if np.any(np.abs(exponent) > MAX_EXPONENT):
        raise ExpressionError(f"exponents above {MAX_EXPONENT} are not allowed")
    return operator.pow(base, exponent)


_BINARY: dict[type[ast.operator], Callable[[Value, Value], Value]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: _power,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Value, Value], Value]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def _extreme(reduce: Callable, pairwise: Callable) -> Callable[..., Value]:
    """max(x) is the largest value of x over the trials; max(a, b) the larger of two, per trial."""

    def apply(*args: Value) -> Value:
        if len(args) == 1:
            return reduce(args[0])
        result = args[0]
        for arg in args[1:]:
            result = pairwise(result, arg)
        return result

    return apply


FUNCTIONS: dict[str, Callable[..., Value]] = {
    "sign": np.sign,
    "abs": np.abs,
    "round": np.round,
    "max": _extreme(np.max, np.maximum),
    "min": _extreme(np.min, np.minimum),
}


class ExpressionError(ValueError):
    """An expression that does not parse, uses a construct not allowed, or an unknown name."""


@lru_cache(maxsize=4096)
def parse(text: str) -> ast.expr:
    """The checked syntax tree of an expression; ExpressionError says what is not allowed."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"an expression has at most {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, RecursionError, MemoryError) as error:
        reason = error.msg if isinstance(error, SyntaxError) else "nested too deeply"
        raise ExpressionError(f"{text!r} is not an expression ({reason})") from None
    for node in ast.walk(tree):
        allowed = _allowed(node)
        if not allowed:
            what = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
            raise ExpressionError(
                f"{text!r}: {what!r} is not allowed (numbers, names, + - * / // % **, "
                f"comparisons, and/or/not and {', '.join(FUNCTIONS)} only)"
            )
    return tree


def _allowed(node: ast.AST) -> bool:
    """Whether a syntax node is one an expression may use."""
    match node:
        case ast.Constant(value=value):
            return isinstance(value, int | float)
        case ast.Call(func=ast.Name(id=function), keywords=keywords):
            return function in FUNCTIONS and not keywords
        case ast.BinOp(op=op):
            return type(op) in _BINARY
        case ast.UnaryOp(op=op):
            return isinstance(op, ast.USub | ast.UAdd | ast.Not)
        case ast.Compare(ops=ops):
            return all(type(o) in _COMPARE for o in ops)
    return isinstance(
        node, ast.BoolOp | ast.Name | ast.operator | ast.cmpop | ast.boolop | ast.unaryop | ast.Load
    )


def names_in(expression: Expression) -> set[str]:
    """The names an expression reads (function names left out)."""
    if not isinstance(expression, str):
        return set()
    tree = parse(expression)
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in calls}


def evaluate(expression: Expression, names: Mapping[str, Value]) -> Value:
    """The value of an expression (a number stays a number) with the given names bound."""
    if isinstance(expression, bool) or not isinstance(expression, int | float | str):
        raise ExpressionError(f"{expression!r} is neither a number nor an expression")
    if not isinstance(expression, str):
        return expression
    return _evaluate(parse(expression), names, expression)


def _evaluate(node: ast.expr, names: Mapping[str, Value], text: str) -> Value:
    match node:
        case ast.Constant(value=value):
            return value
        case ast.Name(id=name):
            if name not in names:
                raise ExpressionError(f"{text!r}: unknown name {name!r}")
            return names[name]
        case ast.BinOp(left=left, op=op, right=right):
            return _BINARY[type(op)](_evaluate(left, names, text), _evaluate(right, names, text))
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return np.logical_not(_evaluate(operand, names, text))
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_evaluate(operand, names, text)
        case ast.UnaryOp(operand=operand):
            return _evaluate(operand, names, text)
        case ast.BoolOp(op=op, values=values):
            combine = np.logical_and if isinstance(op, ast.And) else np.logical_or
            result = _evaluate(values[0], names, text)
            for value in values[1:]:
                result = combine(result, _evaluate(value, names, text))
            return result
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            result, previous = True, _evaluate(left, names, text)
            for op, comparator in zip(ops, comparators, strict=True):
                current = _evaluate(comparator, names, text)
                result = np.logical_and(result, _COMPARE[type(op)](previous, current))
                previous = current
            return result
        case ast.Call(func=ast.Name(id=function), args=args):
            return FUNCTIONS[function](*(_evaluate(a, names, text) for a in args))
    raise ExpressionError(f"{text!r}: cannot evaluate {ast.unparse(node)!r}")
