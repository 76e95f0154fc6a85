"""Refunds meet referrals and earlier refunds: each takes what it changed, once."""

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from fractions import Fraction

import pytest
from django.test import override_settings
from hypothesis import example, given
from hypothesis import strategies as st
from oscar.apps.shipping.methods import FixedPrice
from oscar.core.loading import get_class, get_model
from oscar.test.factories import create_product, create_stockrecord

from oscar_loyalty import awards, ledger
from oscar_loyalty.models import LedgerEntry, PendingAward, Referral
from tests.helpers import at, balance

EventHandler = get_class("order.processing", "EventHandler")
PaymentEventType = get_model("order", "PaymentEventType")
ConditionalOffer = get_model("offer", "ConditionalOffer")
Benefit = get_model("offer", "Benefit")
Condition = get_model("offer", "Condition")
Range = get_model("offer", "Range")
Kind = LedgerEntry.Kind
DAY0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def day(n):
    return DAY0 + timedelta(days=n)


def event(order, name, lines, quantities, amount=D("1.00")):
    kind, _ = PaymentEventType.objects.get_or_create(name=name)
    EventHandler().handle_payment_event(order, kind, amount, lines, quantities)


@pytest.fixture
def friend(customer, django_user_model):
    """A customer ``customer`` referred."""
    friend = django_user_model.objects.create_user(
        username="friend", email="friend@example.com", password="x"
    )
    Referral.objects.create(referrer=customer, referred=friend)
    return friend


def referral_award():
    return PendingAward.objects.get(referral__isnull=False)


# The referral award replays what qualified the order ---------------------------


@pytest.mark.django_db
def test_a_settled_payment_keeps_a_first_order_that_qualified_with_its_shipping(
    friend, place_order
):
    # 15.00 of products + 10.00 shipping: a 25.00 order, over the 20.00 minimum.
    shipping = FixedPrice(D("10.00"), D("10.00"))
    with override_settings(OSCAR_LOYALTY_REFERRAL_MIN_ORDER=D("20.00")):
        order = at(day(0), place_order, friend, [("15.00", 1)], shipping_method=shipping)
    assert referral_award().status == PendingAward.Status.PENDING
    event(order, "Settled", list(order.lines.all()), [1], D("25.00"))
    assert referral_award().status == PendingAward.Status.PENDING
    assert referral_award().points == referral_award().original_points


@pytest.mark.django_db
def test_raising_the_minimum_later_never_voids_an_award_a_payment_event_touches(
    friend, place_order
):
    with override_settings(OSCAR_LOYALTY_REFERRAL_MIN_ORDER=D("20.00")):
        order = at(day(0), place_order, friend, [("25.00", 1)])
    with override_settings(OSCAR_LOYALTY_REFERRAL_MIN_ORDER=D("100.00")):
        event(order, "Settled", list(order.lines.all()), [1], D("25.00"))
    assert referral_award().status == PendingAward.Status.PENDING


@pytest.mark.django_db
@override_settings(OSCAR_LOYALTY_REFERRAL_MIN_ORDER=D("20.00"))
def test_a_refund_that_leaves_the_order_above_its_minimum_keeps_the_award(friend, place_order):
    shipping = FixedPrice(D("10.00"), D("10.00"))
    order = at(day(0), place_order, friend, [("15.00", 1), ("5.00", 2)], shipping_method=shipping)
    # 35.00 when placed; refunding one 5.00 unit leaves 30.00
    event(order, "Refunded", [order.lines.get(quantity=2)], [1], D("5.00"))
    assert referral_award().status == PendingAward.Status.PENDING
    # refunding the 15.00 line leaves 15.00: below the minimum, the award is void
    order.lines.get(quantity=1).set_status("Refunded")
    assert referral_award().status == PendingAward.Status.VOID


# A refund takes its own delta, once ------------------------------------------


@pytest.mark.django_db
def test_a_refund_the_balance_could_not_cover_is_not_collected_by_its_second_signal(
    customer, place_order
):
    order = at(day(0), place_order, customer, [("100.00", 1), ("100.00", 1)])  # 20 points
    at(day(30), awards.mature_due_awards)
    account = ledger.get_account(customer)
    ledger.spend(account, 20, key="spend:all", reason="Used")
    line = order.lines.first()
    # Oscar's first signal: the line's status. The customer holds 0, so 10 are forgiven.
    at(day(40), line.set_status, "Refunded")
    assert balance(customer) == 0
    assert PendingAward.objects.get(order=order).points == 10
    # points earned elsewhere
    ledger.earn(account, 50, key="earn:elsewhere", reason="Another order")
    # Oscar's second signal for the same line: a refund payment event listing it
    at(day(41), event, order, "Refunded", [line], [1], D("100.00"))
    assert balance(customer) == 50
    assert not LedgerEntry.objects.filter(kind=Kind.CLAWBACK).exists()
    # the other line's refund takes its own 10, from what the customer holds now
    at(day(42), order.lines.last().set_status, "Refunded")
    assert balance(customer) == 40
    assert PendingAward.objects.get(order=order).points == 0


@pytest.mark.django_db
def test_a_cancellation_after_a_forgiven_refund_takes_only_the_rest(customer, place_order):
    order = at(day(0), place_order, customer, [("100.00", 1), ("100.00", 1)])
    at(day(30), awards.mature_due_awards)
    account = ledger.get_account(customer)
    ledger.spend(account, 20, key="spend:all", reason="Used")
    at(day(40), order.lines.first().set_status, "Refunded")  # 10 forgiven
    ledger.earn(account, 50, key="earn:elsewhere", reason="Another order")
    at(day(41), order.set_status, "Cancelled")
    assert balance(customer) == 40


# Exact proration -------------------------------------------------------------


def reference_points(line_values, original_points, quantities, refunded) -> int:
    """The largest n with n / original <= kept / total, found by counting, in integers.

    Amounts are whole cents; everything is scaled by the product of the
    quantities so that no division is needed at all.
    """
    scale = math.prod(quantities.values())
    cents = {pk: int(D(v) * 100) for pk, v in line_values.items()}
    total = sum(cents.values()) * scale
    kept = sum(
        c * (quantities[int(pk)] - refunded.get(int(pk), 0)) * (scale // quantities[int(pk)])
        for pk, c in cents.items()
    )
    n = 0
    while n < original_points and (n + 1) * total <= original_points * kept:
        n += 1
    return n


line = st.tuples(
    st.integers(min_value=1, max_value=100_000),  # cents
    st.integers(min_value=1, max_value=9),  # quantity
    st.integers(min_value=0, max_value=9),  # refunded units (capped at the quantity)
)


@given(lines=st.lists(line, min_size=1, max_size=4), rate=st.sampled_from([1, 5, 10, 20]))
@example(lines=[(18065, 3, 1)], rate=10)  # 180.65 for 3 units, one back: 12 of 18 points
@example(lines=[(7219, 7, 6)], rate=10)
def test_proration_matches_a_brute_force_count(lines, rate):
    line_values = {str(i): str(D(c) / 100) for i, (c, _q, _r) in enumerate(lines, 1)}
    quantities = {i: q for i, (_c, q, _r) in enumerate(lines, 1)}
    refunded = {i: min(r, q) for i, (_c, q, r) in enumerate(lines, 1)}
    original = sum(c for c, _q, _r in lines) // (100 * rate)
    expected = reference_points(line_values, original, quantities, refunded)
    assert awards.prorated_points(line_values, original, quantities, refunded) == expected


def test_proration_is_exact_where_a_rounded_division_was_a_point_low():
    assert awards.prorated_points({"1": "180.65"}, 18, {1: 3}, {1: 1}) == 12
    assert awards.kept_value({"1": "180.65"}, {1: 3}, {1: 1}) == Fraction(36130, 300)


@pytest.mark.django_db
def test_a_discounted_line_refunded_in_part_through_a_payment_event(customer, place_order):
    """3 units at 61.00 less a 2.35 basket discount: 180.65, 18 points; one unit back: 12."""
    everything = Range.objects.create(name="Everything", includes_all_products=True)
    ConditionalOffer.objects.create(
        name="2.35 off",
        offer_type=ConditionalOffer.SITE,
        condition=Condition.objects.create(range=everything, type=Condition.COUNT, value=1),
        benefit=Benefit.objects.create(range=everything, type=Benefit.FIXED, value=D("2.35")),
    )
    product = create_product(title="Sweater")
    create_stockrecord(product, price=D("61.00"), num_in_stock=10)
    order = at(day(0), place_order, customer, [(product, 3)])
    line = order.lines.get()
    assert line.line_price_incl_tax == D("180.65")
    assert PendingAward.objects.get(order=order).points == 18
    event(order, "Refunded", [line], [1], D("60.22"))
    assert PendingAward.objects.get(order=order).points == 12
