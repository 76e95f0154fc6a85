"""The earning rule's sums: rates, rounding, taxes, with no database."""

from decimal import Decimal as D

import pytest
from django.test import override_settings

from oscar_loyalty import earning


@override_settings(OSCAR_LOYALTY_POINTS_PER_UNIT_BY_CURRENCY={"EUR": D("0.2"), "USD": D("0.05")})
def test_rates_per_currency():
    rule = earning.EarningRule()
    assert rule.rate("EUR") == D("0.2")
    assert rule.rate("USD") == D("0.05")
    assert rule.rate("JPY") == 0
    assert rule.points("EUR", D("99.99")) == 19
    assert rule.points("JPY", D("99999")) == 0


class Line:
    def __init__(self, incl, excl):
        self.line_price_incl_tax, self.line_price_excl_tax = incl, excl


def test_tax_included_or_not_by_setting():
    line = Line(D("121.00"), D("100.00"))
    assert earning.EarningRule().line_amount(line) == D("121.00")
    with override_settings(OSCAR_LOYALTY_EARN_ON_TAX=False):
        assert earning.EarningRule().line_amount(line) == D("100.00")


@pytest.mark.parametrize(
    "value, points",
    [("89.90", 8), ("9.99", 0), ("10.00", 1), ("19.99", 1), ("0", 0), ("-50.00", 0)],
)
def test_points_are_the_value_times_the_rate_rounded_down_never_negative(value, points):
    assert earning.EarningRule().points("USD", D(value)) == points


@override_settings(OSCAR_LOYALTY_POINTS_PER_UNIT=D("0.5"))
def test_the_default_currency_earns_at_the_points_per_unit_setting():
    assert earning.EarningRule().rate("USD") == D("0.5")
    assert earning.EarningRule().points("USD", D("33.00")) == 16
