"""Targets and their verdicts: a count (round trips, requests, connections) against a bound, judged as measured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Comparison = Literal["<=", "=="]
SYMBOL = {"<=": "≤", "==": "="}


def meets(value: int | None, comparison: Comparison, threshold: int) -> bool:
    """The verdict. None (a figure that could not be measured) meets nothing."""
    return value is not None and (value <= threshold if comparison == "<=" else value == threshold)


@dataclass(frozen=True)
class Target:
    """`name` must measure `comparison` `threshold`. `valid=False`: the figure was measured but does not count
    (the operation answered wrongly, or skipped part of its job: `note` says which)."""

    name: str
    measured: int | None
    comparison: Comparison
    threshold: int
    note: str = ""
    valid: bool = True

    @property
    def passed(self) -> bool:
        return self.valid and meets(self.measured, self.comparison, self.threshold)

    def cells(self) -> tuple[str, str, str, str, str]:
        """name, measured, target, verdict, note."""
        shown = "not measured" if self.measured is None else str(self.measured)
        expected = f"{SYMBOL[self.comparison]} {self.threshold}"
        return self.name, shown, expected, "PASS" if self.passed else "FAIL", self.note
