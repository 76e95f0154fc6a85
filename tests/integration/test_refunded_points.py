"""Points a refund could not take back, because they sat in a spend, never come back.

The customer earns 100 points with order A and puts them in a points voucher
(or uses them in order B); then A is cancelled or refunded. The clawback finds
the points spent: what it could not take waits on the spend, and is taken when
the spend gives its points back, whichever way: the voucher removed from the
basket, the unused-voucher job, or B cancelled.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import time_machine
from oscar.apps.offer.applicator import Applicator
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_class, get_model
from oscar.test.factories import create_order

from oscar_loyalty import awards, redemption, tasks
from oscar_loyalty.models import LedgerEntry, Redemption, Shortfall
from tests.helpers import balance, basket_for

pytestmark = pytest.mark.django_db
Basket = get_model("basket", "Basket")
PaymentEventType = get_model("order", "PaymentEventType")
EventHandler = get_class("order.processing", "EventHandler")
Kind = LedgerEntry.Kind
DAY0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(DAY0, tick=False) as traveller:
        yield traveller


def priced(basket):
    basket = Basket.objects.get(pk=basket.pk)
    basket.strategy = Default()
    Applicator().apply(basket, basket.owner)
    return basket


@pytest.fixture
def order_a(customer, place_order, clock):
    """Order A, two units of $500: 100 points, earned 30 days later."""
    order = place_order(customer, [("500.00", 2)])
    clock.shift(timedelta(days=31))
    awards.mature_due_awards()
    assert balance(customer) == 100
    return order


def test_removing_the_voucher_after_the_order_was_cancelled_gives_nothing_back(
    customer, order_a, django_app
):
    basket = basket_for(customer, "300.00")
    used = redemption.redeem_points(customer, basket, 100)
    order_a.set_status("Cancelled")  # the clawback finds 0 points
    assert balance(customer) == 0
    assert Shortfall.objects.get().points == 100
    # Oscar's own "remove voucher" button.
    django_app.set_user(customer)
    django_app.get("/basket/")
    django_app.post(
        f"/basket/vouchers/{used.voucher.pk}/remove/",
        {"csrfmiddlewaretoken": django_app.cookies["csrftoken"]},
    )
    assert Redemption.objects.get().status == Redemption.Status.RESTORED
    assert balance(customer) == 0
    clawed = LedgerEntry.objects.get(kind=Kind.CLAWBACK)
    assert clawed.points == -100
    assert clawed.customer_reason() == f"Order {order_a.number} refunded"
    history = django_app.get("/accounts/rewards/").html.select_one("#rewards-history").text
    assert f"Order {order_a.number} refunded" in history


def test_the_unused_voucher_job_gives_nothing_back_after_the_order_was_refunded(
    customer, order_a, clock
):
    redemption.redeem_points(customer, basket_for(customer, "300.00"), 100)
    for line in order_a.lines.all():
        line.set_status("Refunded")
    assert balance(customer) == 0
    clock.shift(timedelta(days=5))
    tasks.restore_unused_redemptions.apply(throw=True)
    assert Redemption.objects.get().status == Redemption.Status.RESTORED
    assert balance(customer) == 0
    assert Shortfall.objects.get().taken == 100


def test_cancelling_order_b_after_order_a_was_refunded_gives_nothing_back(customer, order_a):
    basket = basket_for(customer, "300.00")
    redemption.redeem_points(customer, basket, 100)
    order_b = create_order(basket=priced(basket), user=customer)
    assert order_b.total_incl_tax == D("200.00")
    refund, _ = PaymentEventType.objects.get_or_create(name="Refunded")
    line = order_a.lines.get()
    EventHandler().handle_payment_event(order_a, refund, D("1000.00"), [line], [2])
    assert balance(customer) == 0
    order_b.set_status("Cancelled")
    assert Redemption.objects.get().status == Redemption.Status.RESTORED
    assert balance(customer) == 0
    assert sum(LedgerEntry.objects.filter(kind=Kind.CLAWBACK).values_list("points", flat=True)) == (
        -100
    )


def test_order_b_kept_means_the_shortfall_is_the_shops_loss(customer, order_a):
    basket = basket_for(customer, "300.00")
    redemption.redeem_points(customer, basket, 100)
    create_order(basket=priced(basket), user=customer)
    order_a.set_status("Cancelled")
    assert balance(customer) == 0
    assert not LedgerEntry.objects.filter(kind=Kind.CLAWBACK).exists()
    assert Shortfall.objects.get().taken == 0  # waits for a cancellation of B that may never come


def test_only_what_the_clawback_could_not_take_waits(customer, order_a, django_app):
    used = redemption.redeem_points(customer, basket_for(customer, "300.00"), 60)
    order_a.set_status("Cancelled")  # takes the 40 left, 60 wait on the voucher
    assert balance(customer) == 0
    assert Shortfall.objects.get().points == 60
    redemption.restore(used.pk)
    assert balance(customer) == 0


def test_points_earned_after_the_refund_are_not_taken(customer, order_a, place_order, clock):
    parked = redemption.redeem_points(customer, basket_for(customer, "300.00"), 100)
    order_a.set_status("Cancelled")
    place_order(customer, [("500.00", 1)])  # order C: 50 points
    clock.shift(timedelta(days=31))
    awards.mature_due_awards()
    assert balance(customer) == 50
    redemption.restore(parked.pk)  # A's 100 come back and go
    assert balance(customer) == 50
    later = redemption.redeem_points(customer, basket_for(customer, "300.00"), 50)
    assert balance(customer) == 0
    redemption.restore(later.pk)  # C's points, spent after the refund: all of them come back
    assert balance(customer) == 50


def test_a_refund_in_steps_and_oscars_repeated_signals_take_each_point_once(customer, order_a):
    used = redemption.redeem_points(customer, basket_for(customer, "300.00"), 100)
    refund, _ = PaymentEventType.objects.get_or_create(name="Refunded")
    line = order_a.lines.get()
    EventHandler().handle_payment_event(order_a, refund, D("500.00"), [line], [1])
    EventHandler().handle_payment_event(order_a, refund, D("500.00"), [line], [1])
    line.set_status("Refunded")  # Oscar's other signal for the same units
    order_a.set_status("Cancelled")
    assert sum(Shortfall.objects.values_list("points", flat=True)) == 100
    redemption.restore(used.pk)
    assert balance(customer) == 0
    assert sum(LedgerEntry.objects.filter(kind=Kind.CLAWBACK).values_list("points", flat=True)) == (
        -100
    )


def test_a_shrunk_voucher_gives_back_only_what_is_not_owed(customer, order_a):
    basket = basket_for(customer, "300.00")
    used = redemption.redeem_points(customer, basket, 100)
    order_a.set_status("Cancelled")
    basket = priced(basket)
    assert redemption.fit_to_basket(basket) is None  # nothing changed
    line = basket.all_lines()[0]
    line.stockrecord.price = D("100.00")  # the price dropped: points may pay 50 now
    line.stockrecord.save()
    assert redemption.fit_to_basket(priced(basket)) == (Redemption.objects.get(), 50)
    assert balance(customer) == 0  # the 50 given back were owed
    redemption.restore(used.pk)
    assert balance(customer) == 0
    assert Shortfall.objects.get().taken == 100
