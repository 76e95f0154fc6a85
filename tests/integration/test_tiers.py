"""Tiers: what counts, the window's edges, the downgrade policies, staff moves, the recompute."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.test import override_settings
from oscar.core.loading import get_class, get_model

from oscar_loyalty import awards, keys, ledger, redemption, signals, tiers
from oscar_loyalty.i18n import translated
from oscar_loyalty.models import PendingAward, Reward, Tier, TierChange, TierStatus
from tests.helpers import DAY0, at

pytestmark = pytest.mark.django_db
EventHandler = get_class("order.processing", "EventHandler")
PaymentEventType = get_model("order", "PaymentEventType")
Cause = TierChange.Cause


def day(n, seconds=0):
    return DAY0 + timedelta(days=n, seconds=seconds)


def tier(name="Silver", level=1, threshold="100", **kwargs):
    kwargs.setdefault("downgrade", Tier.Downgrade.GRACE)
    kwargs.setdefault("grace_days", 0)
    return Tier.objects.create(name=name, level=level, threshold=D(threshold), **kwargs)


def earn(account, points, when, number="1"):
    return at(when, ledger.earn, account, points, key=keys.order_earn(number), reason="Order")


def tier_of(user):
    status = TierStatus.objects.filter(account__user=user).first()
    return status.tier.name if status and status.tier else None


def recompute(when):
    return at(when, tiers.recompute_all)


@pytest.mark.parametrize(
    ("days", "expected"),
    [(364, "Silver"), (365, "Silver"), (366, None)],
)
def test_the_rolling_window_holds_365_days(customer, account, days, expected):
    tier()
    earn(account, 100, day(0))
    recompute(day(1))
    assert tier_of(customer) == "Silver"
    recompute(day(days))
    assert tier_of(customer) == expected


def test_the_calendar_year_ends_at_midnight_of_the_shop(customer, account):
    tier(period=Tier.Period.YEAR)
    earn(account, 100, datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    recompute(datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC))
    assert tier_of(customer) == "Silver"
    recompute(datetime(2027, 1, 1, 0, 0, tzinfo=UTC))
    assert tier_of(customer) is None


@override_settings(TIME_ZONE="America/Bogota")
def test_the_calendar_year_is_the_shops(customer, account):
    """At 03:00 UTC on 1 January it is still the 31st in Bogotá: last year's points count."""
    tier(period=Tier.Period.YEAR)
    earn(account, 100, datetime(2026, 12, 31, 20, tzinfo=UTC))
    recompute(datetime(2027, 1, 1, 3, tzinfo=UTC))
    assert tier_of(customer) == "Silver"
    recompute(datetime(2027, 1, 1, 5, 1, tzinfo=UTC))
    assert tier_of(customer) is None


def test_pending_points_never_count_matured_ones_do(
    customer, place_order, django_capture_on_commit_callbacks
):
    tier(threshold="20")
    order = at(day(0), place_order, customer, [("200.00", 1)])  # 20 points, pending
    recompute(day(1))
    assert tier_of(customer) is None

    def mature():
        with django_capture_on_commit_callbacks(execute=True):
            awards.mature_due_awards()

    # maturing sends award_matured: the customer's tier is recomputed at once
    at(day(30), mature)
    assert tier_of(customer) == "Silver"
    change = TierChange.objects.get()
    assert (change.cause, change.to_tier.name, change.from_tier) == (Cause.REACHED, "Silver", None)
    assert order.number


def test_other_earnings_do_not_count(customer, account):
    tier()
    at(day(0), ledger.earn, account, 100, key=keys.welcome_earn(customer.pk), reason="Welcome")
    at(
        day(0),
        ledger.adjust,
        account,
        100,
        key="adjust:staff:1",
        reason="Gift",
        staff_user=_staff(),
    )
    recompute(day(1))
    assert tier_of(customer) is None
    at(day(1), ledger.earn, account, 100, key=keys.till_earn("t1"), reason="Till")
    recompute(day(1))
    assert tier_of(customer) == "Silver"


def _staff():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("boss", "boss@example.com", "x", is_staff=True)


def test_a_refund_after_maturity_takes_the_customer_below(customer, place_order):
    tier(threshold="20")
    order = at(day(0), place_order, customer, [("100.00", 1), ("100.00", 1)])
    at(day(30), awards.mature_due_awards)
    recompute(day(30))
    assert tier_of(customer) == "Silver"
    line = order.lines.first()
    line.set_status("Shipped")
    at(day(40), line.set_status, "Returned")  # half the points clawed back: 10 < 20
    assert tier_of(customer) is None
    assert TierChange.objects.first().cause == Cause.DOWNGRADED


def test_clawbacks_count_against_the_earn_they_reverse(customer, account):
    """An earn from before the window, taken back now, takes nothing from this window."""
    tier()
    first = earn(account, 50, day(0), "1")
    earn(account, 100, day(400), "2")
    at(
        day(401),
        ledger.clawback,
        account,
        50,
        key=keys.clawback(first.idempotency_key, 0),
        reason="Refund",
        reverses=first,
    )
    recompute(day(401))
    assert tier_of(customer) == "Silver"


class TestMoneySpent:
    @pytest.fixture(autouse=True)
    def gold(self, db):
        return tier("Gold", threshold="150", measure=Tier.Measure.SPEND)

    def test_orders_count_at_once_refunds_and_cancellations_do_not(self, customer, place_order):
        order = at(day(0), place_order, customer, [("100.00", 1), ("100.00", 1)])
        recompute(day(0))
        assert tier_of(customer) == "Gold"
        at(day(5), order.lines.first().set_status, "Refunded")  # 100 left: below 150
        assert tier_of(customer) is None
        other = at(day(6), place_order, customer, [("160.00", 1)])
        recompute(day(6))
        assert tier_of(customer) == "Gold"
        at(day(7), other.set_status, "Cancelled")
        assert tier_of(customer) is None

    def test_refunded_units_of_a_payment_event(self, customer, place_order):
        order = at(day(0), place_order, customer, [("50.00", 4)])  # 200
        recompute(day(0))
        refund, _ = PaymentEventType.objects.get_or_create(name="Refunded")
        line = order.lines.get()
        at(day(1), EventHandler().handle_payment_event, order, refund, D("50"), [line], [1])
        assert tier_of(customer) == "Gold"  # 150 kept
        at(day(1), EventHandler().handle_payment_event, order, refund, D("50"), [line], [1])
        assert tier_of(customer) is None  # 100 kept

    def test_other_currencies_do_not_count(self, customer, place_order):
        order = at(day(0), place_order, customer, [("200.00", 1)])
        order.__class__.objects.filter(pk=order.pk).update(currency="XTS")
        recompute(day(0))
        assert tier_of(customer) is None


class TestDowngrade:
    def test_never(self, customer, account):
        tier(downgrade=Tier.Downgrade.NEVER)
        earn(account, 100, day(0))
        recompute(day(1))
        recompute(day(2000))
        assert tier_of(customer) == "Silver"

    def test_after_a_grace_period(self, customer, account):
        tier(grace_days=30)
        earn(account, 100, day(0))
        recompute(day(1))
        recompute(day(366))  # below from here
        status = TierStatus.objects.get()
        assert (status.tier.name, status.below_since) == ("Silver", day(366))
        recompute(day(395, 86399))
        assert tier_of(customer) == "Silver"
        recompute(day(396))
        assert tier_of(customer) is None

    def test_qualifying_again_in_the_grace_period_keeps_the_tier(self, customer, account):
        tier(grace_days=30)
        earn(account, 100, day(0))
        recompute(day(1))
        recompute(day(366))
        earn(account, 100, day(370), "2")
        recompute(day(370))
        recompute(day(400))
        status = TierStatus.objects.get()
        assert (status.tier.name, status.below_since) == ("Silver", None)

    def test_at_the_end_of_the_calendar_year(self, customer, account):
        """Reached in 2026: kept all of 2027, lost on 1 January 2028."""
        tier(period=Tier.Period.YEAR, downgrade=Tier.Downgrade.PERIOD_END)
        earn(account, 100, datetime(2026, 6, 1, tzinfo=UTC))
        recompute(datetime(2026, 6, 1, 1, tzinfo=UTC))
        recompute(datetime(2027, 1, 1, 4, tzinfo=UTC))
        recompute(datetime(2027, 12, 31, 23, tzinfo=UTC))
        assert tier_of(customer) == "Silver"
        recompute(datetime(2028, 1, 1, 4, tzinfo=UTC))
        assert tier_of(customer) is None

    def test_at_the_end_of_a_rolling_period(self, customer, account):
        tier(downgrade=Tier.Downgrade.PERIOD_END)
        earn(account, 100, day(0))
        recompute(day(1))
        recompute(day(366))
        recompute(day(366 + 364))
        assert tier_of(customer) == "Silver"
        recompute(day(366 + 365))
        assert tier_of(customer) is None

    def test_down_to_the_tier_still_reached(self, customer, account):
        tier()
        tier("Gold", level=2, threshold="300")
        earn(account, 300, day(0))
        earn(account, 100, day(200), "2")
        recompute(day(201))
        assert tier_of(customer) == "Gold"
        recompute(day(366))
        assert tier_of(customer) == "Silver"
        assert [c.to_tier.name for c in TierChange.objects.order_by("pk")] == ["Gold", "Silver"]


def test_lifetime_has_no_period_end():
    from django.core.exceptions import ValidationError

    t = Tier(
        name="X",
        level=1,
        threshold=1,
        period=Tier.Period.LIFETIME,
        downgrade=Tier.Downgrade.PERIOD_END,
    )
    with pytest.raises(ValidationError):
        t.full_clean()


def test_a_hidden_tier_is_reached_like_any_other(customer, account):
    tier()
    tier("Secret", level=2, threshold="500", hidden=True)
    earn(account, 500, day(0))
    recompute(day(0))
    assert tier_of(customer) == "Secret"


class TestStaffMoves:
    def test_up_with_a_reason_the_customer_reads(self, customer, staff, account):
        gold = tier("Gold", level=2, threshold="1000")
        change = tiers.move(customer, gold, "Thanks for your patience", staff)
        assert (change.cause, change.staff_user, change.customer_reason()) == (
            Cause.STAFF,
            staff,
            "Thanks for your patience",
        )
        # the recompute does not take it away though the customer does not qualify
        recompute(day(400))
        assert tier_of(customer) == "Gold"

    def test_qualifying_higher_lifts_the_customer_past_the_staff_move(
        self, customer, staff, account
    ):
        silver = tier()
        tier("Gold", level=2, threshold="300")
        tiers.move(customer, silver, "Welcome", staff)
        earn(account, 300, day(0))
        recompute(day(0))
        assert tier_of(customer) == "Gold"
        assert TierStatus.objects.get().held_level is None

    def test_down(self, customer, staff, account):
        tier()
        earn(account, 100, day(0))
        recompute(day(0))
        tiers.move(customer, None, "Abuse of returns", staff)
        recompute(day(1))
        assert tier_of(customer) is None
        # only a tier above the one staff took away lifts the customer again
        tier("Gold", level=2, threshold="300")
        earn(account, 200, day(2), "2")
        recompute(day(2))
        assert tier_of(customer) == "Gold"

    def test_refused_without_reason_or_staff(self, customer, staff):
        silver = tier()
        with pytest.raises(tiers.TierError):
            tiers.move(customer, silver, "  ", staff)
        with pytest.raises(tiers.TierError):
            tiers.move(customer, silver, "Because", customer)
        assert not TierChange.objects.exists()

    def test_to_the_same_tier_changes_nothing(self, customer, staff):
        silver = tier()
        tiers.move(customer, silver, "Welcome", staff)
        assert tiers.move(customer, silver, "Again", staff) is None
        assert TierChange.objects.count() == 1


def test_recompute_is_idempotent_and_signals_each_change_once(
    customer, account, django_user_model, django_capture_on_commit_callbacks
):
    tier()
    others = [django_user_model.objects.create_user(f"u{i}", f"u{i}@x.com", "x") for i in range(3)]
    for i, user in enumerate([customer, *others]):
        earn(ledger.get_account(user), 100, day(0), str(i))
    received = []

    def receiver(sender, change, account_id, from_tier_id, to_tier_id, **kwargs):
        received.append((account_id, to_tier_id))

    signals.tier_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert at(day(1), tiers.recompute_all, chunk_size=2) == 4
        with django_capture_on_commit_callbacks(execute=True):
            assert at(day(2), tiers.recompute_all, chunk_size=2) == 0
    finally:
        signals.tier_changed.disconnect(receiver)
    assert len(received) == 4
    assert TierStatus.objects.count() == 4


def test_no_tiers_no_work(customer, account):
    earn(account, 100, day(0))
    assert recompute(day(0)) == 0
    assert not TierStatus.objects.exists()


def test_the_multiplier_applies_to_the_next_order(customer, staff, place_order):
    gold = tier("Gold", multiplier=D("1.5"))
    tiers.move(customer, gold, "VIP", staff)
    order = at(day(0), place_order, customer, [("200.00", 1)])
    assert PendingAward.objects.get(order=order).points == 30


def test_a_reward_for_a_tier_and_above(customer, staff, account):
    silver = tier()
    gold = tier("Gold", level=2, threshold="300")
    reward = Reward.objects.create(
        name="Lounge", kind=Reward.Kind.DISCOUNT, cost=10, value=D("5"), min_tier=silver
    )
    earn(account, 50, day(0))
    with pytest.raises(redemption.RedemptionError, match="Silver or above"):
        redemption.claim_reward(customer, reward.pk)
    assert ledger.get_account(customer).balance == 50
    tiers.move(customer, gold, "VIP", staff)
    assert redemption.claim_reward(customer, reward.pk).points == 10


@pytest.mark.parametrize(
    ("language", "expected"),
    [("es", "Oro"), ("es-mx", "Oro mexicano"), ("es-ar", "Oro"), ("fr", "Gold"), ("en", "Gold")],
)
def test_names_in_the_customers_language(language, expected):
    from django.utils import translation

    with translation.override(language):
        assert translated({"es": "Oro", "es-mx": "Oro mexicano", "fr": ""}, "Gold") == expected
        assert (
            Tier(name="Gold", name_translations={"es": "Oro", "es-mx": "Oro mexicano"}).display_name
            == expected
        )
    assert translated(None, "Gold") == "Gold"
