import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core import checks
from django.test import override_settings

from oscar_loyalty.checks import check_referral_reward_affordable, check_settings
from oscar_loyalty.conf import DEFAULTS, loyalty_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.rst"


def test_defaults_pass_the_checks():
    assert check_settings() == []


def test_settings_are_read_at_each_access():
    with override_settings(OSCAR_LOYALTY_RETURN_WINDOW_DAYS=14):
        assert loyalty_settings.RETURN_WINDOW_DAYS == 14
    assert loyalty_settings.RETURN_WINDOW_DAYS == 30


def test_unknown_setting_is_an_attribute_error():
    with pytest.raises(AttributeError):
        loyalty_settings.NOPE  # noqa: B018


@pytest.mark.parametrize(
    "name,value",
    [
        ("POINTS_PER_UNIT", Decimal("-0.1")),
        ("POINTS_PER_UNIT", Decimal("0")),
        ("POINTS_PER_UNIT", 0.1),
        ("POINTS_PER_UNIT", Decimal("NaN")),
        ("POINT_VALUE", Decimal("-1")),
        ("RETURN_WINDOW_DAYS", 0),
        ("RETURN_WINDOW_DAYS", -30),
        ("RETURN_WINDOW_DAYS", "30"),
        ("RECONCILE_AFTER_MINUTES", 0),
        ("RECONCILE_DAYS", "7"),
        ("QUEUE_TIMEOUT", 0),
        ("QUEUE_TIMEOUT", 60),
        ("QUEUE_TIMEOUT", "1"),
        ("RETURN_WINDOW_DAYS", True),
        ("EXPIRY_MONTHS", 0),
        ("EXPIRY_POLICY", "sometimes"),
        ("POINTS_NAME", "points"),
        ("MIN_POINTS_PER_USE", 0),
        ("MAX_BASKET_SHARE", Decimal("1.5")),
        ("MAX_BASKET_SHARE", 0.5),
        ("REDEMPTION_LIFETIME_HOURS", -1),
        ("COUPON_MAX_FAILURES", 0),
        ("TASK_CHUNK_SIZE", 0),
        ("TIER_CHUNK_SIZE", 0),
        ("TIER_CHUNK_SIZE", "5000"),
        ("POINTS_PER_UNIT_BY_CURRENCY", {"EUR": -1}),
        ("POINT_VALUE_BY_CURRENCY", {"EUR": 0.9}),
        ("POINT_VALUE_BY_CURRENCY", {"EUR": Decimal("0.905")}),
        ("POINT_VALUE_BY_CURRENCY", {"JPY": Decimal("0")}),
        ("POINT_VALUE_BY_CURRENCY", [("EUR", Decimal("0.90"))]),
        ("REFUND_EVENT_TYPES", "Refunded"),
        ("POINTS_NAME", ("", "points")),
        ("EARNING_RULE", "oscar_loyalty.earning.NoSuchRule"),
        ("REFERRAL_RULES", "oscar_loyalty.referrals.NoSuchRules"),
        ("CARD_CODE_MINUTES", 0),
        ("CARD_CODE_MINUTES", "10"),
        ("API_THROTTLE_RATES", {"customer": "lots", "staff": "1/day", "token": "1/day"}),
        ("API_THROTTLE_RATES", {"customer": "1/day"}),
        ("EMAILS", {"statment": {"send": False}}),
        ("EMAILS", {"statement": {"send": "no"}}),
        ("EMAILS", {"statement": False}),
        ("EXPIRY_REMINDER_DAYS", "30"),
        ("EXPIRY_LAST_CHANCE_DAYS", 30),
        ("EMAILS_PER_MINUTE", 0),
    ],
)
def test_bad_settings_are_refused_at_start_up(name, value):
    with override_settings(**{f"OSCAR_LOYALTY_{name}": value}):
        errors = checks.run_checks()
    mine = [e for e in errors if e.id.startswith("oscar_loyalty.E")]
    assert len(mine) == 1
    assert f"OSCAR_LOYALTY_{name}" in mine[0].msg


def test_every_setting_is_documented():
    documented = set(re.findall(r"^``OSCAR_LOYALTY_(\w+)``$", DOCS.read_text(), re.M))
    assert documented == set(DEFAULTS)


def referral_warnings(**overrides):
    with override_settings(**{f"OSCAR_LOYALTY_{k}": v for k, v in overrides.items()}):
        return [e for e in checks.run_checks() if e.id == "oscar_loyalty.W201"]


def test_the_default_referral_reward_is_a_fraction_of_its_minimum_order():
    worth = loyalty_settings.REFERRAL_POINTS * loyalty_settings.POINT_VALUE
    assert worth <= loyalty_settings.REFERRAL_MIN_ORDER / 5
    assert check_referral_reward_affordable() == []


def test_a_referral_paying_more_than_its_minimum_order_is_warned_about():
    # 100 points at 1.00 each for a friend's 20.00 order
    found = referral_warnings(
        REFERRAL_POINTS=100, POINT_VALUE=Decimal("1.00"), REFERRAL_MIN_ORDER=Decimal("20.00")
    )
    assert len(found) == 1
    assert found[0].level == checks.WARNING
    assert "pays 100.00" in found[0].msg and "20.00" in found[0].msg
    assert "OSCAR_LOYALTY_REFERRAL_POINTS = 2" in found[0].hint


def test_a_referral_paying_exactly_its_minimum_order_is_not_warned_about():
    assert referral_warnings(REFERRAL_POINTS=20, REFERRAL_MIN_ORDER=Decimal("20.00")) == []
