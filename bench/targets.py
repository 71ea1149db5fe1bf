"""Targets and their verdicts, always on the unrounded measured value.

A ratio of 0.699 against `>= 0.7` fails, however it is printed; `shown()` prints enough digits that the figure
on the line never reads as if it passed (or failed) when it did not.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Comparison = Literal["<=", ">=", "=="]
_COMPARE: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "==": operator.eq}
_SYMBOL = {"<=": "≤", ">=": "≥", "==": "="}
MAX_DIGITS = 12


def meets(value: float, comparison: Comparison, threshold: float) -> bool:
    """The verdict. NaN (a figure that could not be measured) meets nothing."""
    if math.isnan(value):
        return False
    return _COMPARE[comparison](value, threshold)


def shown(value: float, comparison: Comparison, threshold: float, *, digits: int = 2) -> str:
    """`value` with at least `digits` decimals, and more while the printed figure would get another verdict."""
    if math.isnan(value):
        return "not measured"
    verdict = meets(value, comparison, threshold)
    for d in range(digits, MAX_DIGITS + 1):
        text = f"{value:.{d}f}"
        if meets(float(text), comparison, threshold) == verdict:
            return text
    return repr(value)


@dataclass(frozen=True)
class Target:
    """`name` must measure `comparison` `threshold`. Whole-number figures (round trips, counts) print as such.

    `valid=False`: the figure was measured but does not count (the operation answered wrongly, say `note`).
    """

    name: str
    measured: float
    comparison: Comparison
    threshold: float
    digits: int = 0
    note: str = ""
    valid: bool = True

    @property
    def passed(self) -> bool:
        return self.valid and meets(self.measured, self.comparison, self.threshold)

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"

    @property
    def expected(self) -> str:
        return f"{_SYMBOL[self.comparison]} {self.threshold:.{self.digits}f}"

    def shown(self) -> str:
        return shown(self.measured, self.comparison, self.threshold, digits=self.digits)

    def line(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return f"{self.verdict}  {self.name}: {self.shown()} (target {self.expected}){note}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "measured": None if math.isnan(self.measured) else self.measured,
            "comparison": self.comparison,
            "threshold": self.threshold,
            "valid": self.valid,
            "passed": self.passed,
            "note": self.note,
        }
