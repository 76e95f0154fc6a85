from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from oscar.apps.shipping.methods import FixedPrice
from oscar.core.loading import get_model
from oscar.test.factories import create_offer, create_product, create_stockrecord

from oscar_loyalty import earning, orders, receivers
from oscar_loyalty.models import BonusCampaign, PendingAward

pytestmark = pytest.mark.django_db
Category = get_model("catalogue", "Category")
ProductCategory = get_model("catalogue", "ProductCategory")
DAY0 = datetime(2026, 3, 2, 10, tzinfo=UTC)


def award_points(order):
    award = PendingAward.objects.filter(order=order).first()
    return award.points if award else 0


@pytest.mark.parametrize(
    "lines,points",
    [
        ([("89.90", 1)], 8),
        ([("9.99", 1)], 0),
        ([("10.00", 1)], 1),
        ([("5.00", 2)], 1),  # rounded down once, on the order, not per line
        ([("19.99", 1), ("0.01", 1)], 2),
        ([("250.00", 3)], 75),
    ],
)
def test_one_point_per_ten_rounded_down(customer, place_order, lines, points):
    order = place_order(customer, lines)
    assert award_points(order) == points


def test_award_matures_after_the_return_window(customer, place_order):
    with time_machine.travel(DAY0, tick=False):
        order = place_order(customer)
    award = PendingAward.objects.get(order=order)
    assert award.matures_at == DAY0 + timedelta(days=30)
    assert award.status == PendingAward.Status.PENDING
    assert award.account.user == customer
    assert award.original_points == award.points == 10


def test_guests_earn_nothing(place_order):
    order = place_order(None, guest_email="guest@example.com")
    assert not PendingAward.objects.filter(order=order).exists()


def test_shipping_earns_nothing(customer, place_order):
    shipping = FixedPrice(charge_excl_tax=D("50.00"), charge_incl_tax=D("50.00"))
    order = place_order(customer, [("30.00", 1)], shipping_method=shipping)
    assert order.total_incl_tax == D("80.00")
    assert award_points(order) == 3


def test_points_are_on_what_was_paid_after_discounts(customer, place_order):
    create_offer()  # 20% off everything
    order = place_order(customer, [("100.00", 1)])
    assert order.total_discount_incl_tax == D("20.00")
    assert award_points(order) == 8


@override_settings(OSCAR_LOYALTY_POINTS_PER_UNIT=D("0.5"))
def test_rate_is_a_setting(customer, place_order):
    assert award_points(place_order(customer, [("33.00", 1)])) == 16


def category(path):
    from oscar.apps.catalogue.categories import create_from_breadcrumbs

    return create_from_breadcrumbs(path)


def product_in(path, price):
    product = create_product(title=f"In {path}")
    create_stockrecord(product, price=D(price), num_in_stock=100)
    ProductCategory.objects.create(product=product, category=category(path))
    return product


def test_double_points_on_a_category_and_its_subcategories(customer, place_order):
    boots = product_in("Sport > Shoes", "50.00")
    mug = product_in("Home > Kitchen", "50.00")
    campaign = BonusCampaign.objects.create(name="Double sport", multiplier=D("2"))
    campaign.categories.add(category("Sport"))
    order = place_order(customer, [(boots, 1), (mug, 1)])
    assert award_points(order) == 10 + 5


def test_campaign_dates_are_respected(customer, place_order):
    mug = product_in("Home > Kitchen", "50.00")
    campaign = BonusCampaign.objects.create(
        name="March", multiplier=D("3"), starts_at=DAY0, ends_at=DAY0 + timedelta(days=31)
    )
    campaign.products.add(mug)
    with time_machine.travel(DAY0 - timedelta(seconds=1), tick=False):
        before = place_order(customer, [(mug, 1)])
    with time_machine.travel(DAY0, tick=False):
        during = place_order(customer, [(mug, 1)])
    with time_machine.travel(DAY0 + timedelta(days=31), tick=False):
        after = place_order(customer, [(mug, 1)])
    assert [award_points(o) for o in (before, during, after)] == [5, 15, 5]


def test_exclusion_wins_over_bonus(customer, place_order):
    gift_card = product_in("Gifts", "50.00")
    other = product_in("Home > Kitchen", "20.00")
    BonusCampaign.objects.create(name="Gift cards", multiplier=0).products.add(gift_card)
    BonusCampaign.objects.create(name="All gifts x5", multiplier=5).categories.add(
        category("Gifts")
    )
    order = place_order(customer, [(gift_card, 2), (other, 1)])
    assert award_points(order) == 2


class FlatRule(earning.EarningRule):
    def points(self, currency, value):
        return 7


@override_settings(OSCAR_LOYALTY_EARNING_RULE="tests.integration.test_earning.FlatRule")
def test_the_rule_is_replaceable_by_setting(customer, place_order):
    assert award_points(place_order(customer, [("1.00", 1)])) == 7


def test_an_error_in_the_hook_never_breaks_checkout(customer, place_order, monkeypatch, caplog):
    def broken():
        raise RuntimeError("rule exploded")

    monkeypatch.setattr("oscar_loyalty.awards.get_earning_rule", broken)
    order = place_order(customer)
    assert order.pk and order.lines.count() == 1
    assert not PendingAward.objects.filter(order=order).exists()
    assert "rule exploded" in caplog.text


def test_a_database_error_in_the_hook_leaves_the_checkout_transaction_usable(
    customer, place_order, monkeypatch
):
    def bad_sql(order):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr("oscar_loyalty.awards.record_award", bad_sql)
    order = place_order(customer)
    assert order.lines.count() == 1  # the connection still works


def test_the_hook_only_queues_the_order(customer, place_order, monkeypatch):
    queued = []
    monkeypatch.setattr("oscar_loyalty.tasks.order_placed.delay", queued.append)
    order = place_order(customer)
    assert queued == [order.pk]
    assert not PendingAward.objects.filter(order=order).exists()
    with CaptureQueriesContext(connection) as queries:
        receivers.award_order(sender=None, order=order)
    assert len(queries) == 0


def test_the_task_retries_an_order_not_committed_yet(customer, place_order):
    from celery.exceptions import MaxRetriesExceededError, Retry

    from oscar_loyalty import tasks

    with pytest.raises((Retry, MaxRetriesExceededError)):
        tasks.order_placed.apply(args=[10**9], throw=True)
    order = place_order(customer)
    PendingAward.objects.filter(order=order).delete()
    tasks.order_placed.apply(args=[order.pk], throw=True)
    tasks.order_placed.apply(args=[order.pk], throw=True)  # redelivered: still one award
    assert PendingAward.objects.get(order=order).points == 10


def test_the_orders_work_costs_the_same_queries_for_1_and_50_lines(customer, place_order):
    bonus = BonusCampaign.objects.create(name="Double", multiplier=2)
    bonus.categories.add(category("Sport"))
    small = place_order(customer, [(product_in("Sport > Shoes", "10.00"), 1)])
    big = place_order(customer, [(product_in(f"Sport > Shoes {i}", "10.00"), 1) for i in range(50)])
    assert big.lines.count() == 50
    counts = []
    for order in (small, big):
        PendingAward.objects.filter(order=order).delete()
        order = type(order).objects.get(pk=order.pk)
        with CaptureQueriesContext(connection) as queries:
            orders.placed(order)
        assert PendingAward.objects.filter(order=order).exists()
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_the_confirmation_shows_what_the_order_earns_even_before_its_task_ran(
    customer, place_order
):
    from oscar_loyalty import awards

    with time_machine.travel(DAY0, tick=False):
        order = place_order(customer, [("120.00", 1)])
    shown = awards.order_points(order)
    assert (shown.points, shown.matures_at) == (12, DAY0 + timedelta(days=30))
    PendingAward.objects.filter(order=order).delete()  # as if its task were still queued
    unsaved = awards.order_points(order)
    assert (unsaved.points, unsaved.matures_at, unsaved.pk) == (12, DAY0 + timedelta(days=30), None)
    assert not PendingAward.objects.exists()


def test_the_confirmation_shows_nothing_for_guests_cheap_or_cancelled_orders(customer, place_order):
    from oscar_loyalty import awards

    assert awards.order_points(place_order(None, [("120.00", 1)])) is None
    assert awards.order_points(place_order(customer, [("9.99", 1)])) is None
    cancelled = place_order(customer, [("120.00", 1)])
    cancelled.set_status("Cancelled")
    assert awards.order_points(cancelled) is None
