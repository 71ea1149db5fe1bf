"""The bench's verdicts: a count against its bound, and a figure that was not measured, or measured on a wrong
answer, never passes."""

from __future__ import annotations

import pytest

from bench.targets import Target, meets


@pytest.mark.parametrize(
    ("value", "comparison", "threshold", "passed"),
    [(2, "<=", 2, True), (1, "<=", 2, True), (3, "<=", 2, False), (1, "==", 1, True), (0, "==", 1, False), (2, "==", 1, False)],
)
def test_a_count_meets_its_bound_or_not(value, comparison, threshold, passed):
    assert meets(value, comparison, threshold) is passed
    assert Target("t", value, comparison, threshold).cells()[3] == ("PASS" if passed else "FAIL")


def test_a_figure_that_could_not_be_measured_fails_every_target():
    for comparison in ("<=", "=="):
        target = Target("not run", None, comparison, 0)
        assert not target.passed
        assert target.cells()[1:4] == ("not measured", f"{'≤' if comparison == '<=' else '='} 0", "FAIL")


def test_a_figure_from_a_wrong_answer_does_not_count():
    target = Target("info, fresh token", 1, "==", 1, note="does not count: it answered HTTP 500", valid=False)

    assert not target.passed
    assert target.cells() == ("info, fresh token", "1", "= 1", "FAIL", "does not count: it answered HTTP 500")
