"""Prorating an award when units come back: the sums, with no database."""

import pytest

from oscar_loyalty.awards import kept_value, prorated_points

# Two lines: line 1 worth 60.00 for 3 units, line 2 worth 40.00 for 1 unit.
LINE_VALUES = {"1": "60.00", "2": "40.00"}
QUANTITIES = {1: 3, 2: 1}


@pytest.mark.parametrize(
    "refunded, points",
    [
        ({}, 10),
        ({1: 1}, 8),  # 80.00 of 100.00 kept
        ({2: 1}, 6),
        ({1: 2}, 6),
        ({1: 3, 2: 1}, 0),
    ],
)
def test_points_follow_the_share_of_value_kept(refunded, points):
    assert prorated_points(LINE_VALUES, 10, QUANTITIES, refunded) == points


def test_prorated_points_are_rounded_down():
    # 7 points x 80/100 kept = 5.6
    assert prorated_points(LINE_VALUES, 7, QUANTITIES, {1: 1}) == 5


def test_an_award_worth_nothing_prorates_to_nothing():
    assert prorated_points({"1": "0.00"}, 5, {1: 1}, {}) == 0


def test_kept_value_counts_units_not_lines():
    assert kept_value(LINE_VALUES, QUANTITIES, {1: 1}) == 80
    assert kept_value(LINE_VALUES, QUANTITIES, {1: 3, 2: 1}) == 0


def test_a_line_no_longer_on_the_order_counts_for_nothing():
    assert kept_value(LINE_VALUES, {1: 3}, {}) == 60
