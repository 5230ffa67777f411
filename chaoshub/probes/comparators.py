"""Expectations: one comparator applied to one observed value.

An expectation is written as a one-key mapping, ``{"<": 1000}``, ``{"between": [200, 299]}``,
``{"oneOf": [200, 204]}``, ``{"contains": "ok"}``, ``{"matches": "^up$"}`` — the operators
Litmus's comparators and Chaos Toolkit's tolerances have between them. Unlike Litmus, an
operand that does not parse is refused when the document is validated (naming the field),
never read as 0; and ``matches`` runs on RE2 with full-match semantics, so ``up`` does not
accept ``up\\n``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from chaoshub.errors import InvalidInput
from chaoshub.patterns import PatternError, compile_pattern

NUMERIC = ("==", "!=", "<", "<=", ">", ">=")
OPERATORS = (*NUMERIC, "between", "oneOf", "contains", "matches")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


@dataclass(frozen=True)
class Expectation:
    """``op`` applied with ``operand`` to what a probe observed."""

    op: str
    operand: Any

    def holds(self, value: Any) -> bool:
        if self.op in NUMERIC:
            if self.op in ("==", "!=") and isinstance(self.operand, str):
                equal = str(value) == self.operand
                return equal if self.op == "==" else not equal
            number = _number(value)
            if number is None:
                return False
            bound = float(self.operand)
            return {
                "==": number == bound,
                "!=": number != bound,
                "<": number < bound,
                "<=": number <= bound,
                ">": number > bound,
                ">=": number >= bound,
            }[self.op]
        if self.op == "between":
            number = _number(value)
            low, high = self.operand
            return number is not None and float(low) <= number <= float(high)
        if self.op == "oneOf":
            number = _number(value)
            for choice in self.operand:
                if isinstance(choice, str) and str(value) == choice:
                    return True
                if not isinstance(choice, str) and number is not None and number == float(choice):
                    return True
            return False
        if self.op == "contains":
            return self.operand in str(value)
        # matches: the whole value, on RE2
        return cast(Any, compile_pattern(self.operand)).fullmatch(str(value)) is not None

    def describe(self) -> str:
        if self.op == "between":
            return f"between {self.operand[0]} and {self.operand[1]}"
        if self.op == "oneOf":
            return "one of " + ", ".join(str(v) for v in self.operand)
        return (
            f"{self.op} {self.operand!r}"
            if isinstance(self.operand, str)
            else f"{self.op} {self.operand}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {self.op: list(self.operand) if isinstance(self.operand, tuple) else self.operand}


def parse_expectation(spec: Any, field: Sequence[str | int]) -> Expectation:
    """The expectation ``spec`` writes, or :class:`InvalidInput` naming the field."""
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise InvalidInput(
            f"an expectation is one operator and its operand, e.g. {{'<': 1000}}; operators: {', '.join(OPERATORS)}",
            field=field,
        )
    ((op, operand),) = spec.items()
    where = [*field, op]
    if op not in OPERATORS:
        raise InvalidInput(
            f"unknown operator {op!r}; operators: {', '.join(OPERATORS)}", field=where
        )
    if op in NUMERIC:
        if op in ("==", "!=") and isinstance(operand, str) and len(operand) <= 4096:
            return Expectation(op, operand)
        if _number(operand) is None or isinstance(operand, str):
            raise InvalidInput(f"{op!r} needs a finite number", field=where)
        return Expectation(op, float(operand))
    if op == "between":
        if (
            not isinstance(operand, Sequence)
            or isinstance(operand, str)
            or len(operand) != 2
            or any(_number(v) is None or isinstance(v, str) for v in operand)
        ):
            raise InvalidInput("'between' needs two numbers [low, high]", field=where)
        low, high = float(operand[0]), float(operand[1])
        if low > high:
            raise InvalidInput(f"'between' needs low <= high, got [{low}, {high}]", field=where)
        return Expectation(op, (low, high))
    if op == "oneOf":
        if (
            not isinstance(operand, Sequence)
            or isinstance(operand, str)
            or not 1 <= len(operand) <= 100
        ):
            raise InvalidInput("'oneOf' needs a list of 1 to 100 values", field=where)
        for i, choice in enumerate(operand):
            if not isinstance(choice, str) and (_number(choice) is None):
                raise InvalidInput("each choice is a number or a string", field=[*where, i])
        return Expectation(op, tuple(operand))
    if not isinstance(operand, str) or not 0 < len(operand) <= 4096:
        raise InvalidInput(f"{op!r} needs a string of 1 to 4096 characters", field=where)
    if op == "matches":
        try:
            compile_pattern(operand)
        except PatternError as exc:
            raise InvalidInput(str(exc), field=where) from None
    return Expectation(op, operand)
