"""The bench judges every target on the unrounded figure, and never prints a figure that reads as the other verdict."""

from __future__ import annotations

import math

import pytest

from bench.targets import Target, meets, shown


def test_a_ratio_of_0_699_fails_0_7_though_two_decimals_would_print_0_70():
    target = Target("throughput, app / least-correct", 0.699, ">=", 0.7, digits=2)

    assert f"{0.699:.2f}" == "0.70"  # what the old bench printed beside its FAIL
    assert not target.passed
    assert target.shown() == "0.699"
    assert target.line().startswith("FAIL")


@pytest.mark.parametrize(
    ("value", "comparison", "threshold", "digits", "printed", "passed"),
    [
        (0.8, ">=", 0.8, 4, "0.8000", True),
        (0.79996, ">=", 0.8, 4, "0.79996", False),  # 4 digits would print 0.8000
        (0.7999999999, ">=", 0.8, 4, "0.7999999999", False),
        (0.80004, ">=", 0.8, 4, "0.8000", True),
        (2.0, "<=", 2, 0, "2", True),
        (3.0, "<=", 2, 0, "3", False),
        (2.4, "<=", 2, 0, "2.4", False),  # a whole-number figure never rounds down to a pass
        (1.0, "==", 1, 0, "1", True),
        (0.0, "==", 1, 0, "0", False),
    ],
)
def test_the_printed_figure_agrees_with_the_verdict(value, comparison, threshold, digits, printed, passed):
    assert meets(value, comparison, threshold) is passed
    assert shown(value, comparison, threshold, digits=digits) == printed
    assert meets(float(printed), comparison, threshold) is passed


def test_a_figure_that_could_not_be_measured_fails_every_target():
    for comparison in ("<=", ">=", "=="):
        target = Target("not run", math.nan, comparison, 0)
        assert not target.passed
        assert target.shown() == "not measured"
        assert target.to_json()["measured"] is None


def test_a_figure_from_a_wrong_answer_does_not_count():
    target = Target("info, fresh token", 1, "==", 1, valid=False, note="does not count: it answered HTTP 500")

    assert not target.passed
    assert target.shown() == "1"
    assert target.to_json()["passed"] is False
