"""A points voucher an order used, or is using, never gives its points back.

Unless that order is cancelled. The race itself (a restore and Oscar's
``place_order`` at the same moment) is in ``test_voucher_in_use_concurrency``.
"""

from decimal import Decimal as D

import pytest
from oscar.apps.offer.applicator import Applicator
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_class, get_model
from oscar.test.factories import create_order, create_product, create_stockrecord

from oscar_loyalty import ledger, redemption, tasks
from oscar_loyalty.models import LedgerEntry, Redemption
from tests.helpers import balance

pytestmark = pytest.mark.django_db
Basket = get_model("basket", "Basket")
Order = get_model("order", "Order")
VoucherRemoveView = get_class("basket.views", "VoucherRemoveView")
UnableToPlaceOrder = get_class("order.exceptions", "UnableToPlaceOrder")
voucher_removal = get_class("basket.signals", "voucher_removal")


def priced_basket(user, price="120.00", basket=None):
    if basket is None:
        product = create_product(title=f"Item {price}")
        create_stockrecord(product, price=D(price), num_in_stock=100)
        basket = Basket.objects.create(owner=user)
        basket.strategy = Default()
        basket.add_product(product)
    basket = Basket.objects.get(pk=basket.pk)
    basket.strategy = Default()
    Applicator().apply(basket, user)
    return basket


@pytest.fixture
def rich(customer):
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="Order 1")
    return customer


@pytest.fixture
def queued(monkeypatch):
    """The order's task is queued, not run yet."""
    orders = []
    monkeypatch.setattr("oscar_loyalty.tasks.order_placed.delay", orders.append)
    return orders


def test_removing_the_voucher_after_the_order_was_placed_gives_nothing_back(
    rich, queued, django_capture_on_commit_callbacks
):
    basket = priced_basket(rich)
    used = redemption.redeem_points(rich, basket, 60)
    with django_capture_on_commit_callbacks(execute=True):  # the order commits: queued
        order = create_order(basket=priced_basket(rich, basket=basket), user=rich)
    # A request that loaded the basket before the order was placed removes the voucher.
    voucher_removal.send(sender=VoucherRemoveView, basket=basket, voucher=used.voucher)
    assert balance(rich) == 40
    tasks.order_placed.apply(args=queued, throw=True)
    assert redemption.expire_unused() == 0
    used.refresh_from_db()
    assert (used.status, used.order, balance(rich)) == (Redemption.Status.USED, order, 40)


def test_a_restore_after_the_basket_was_priced_refuses_the_order(rich, queued):
    basket = priced_basket(rich)
    used = redemption.redeem_points(rich, basket, 60)
    priced = priced_basket(rich, basket=basket)
    assert priced.total_incl_tax == D("60.00")
    assert redemption.restore(used.pk) is not None  # the other tab, a moment later
    with pytest.raises(UnableToPlaceOrder) as refusal:
        create_order(basket=priced, user=rich)
    assert "points are back in your account" in str(refusal.value)
    assert not Order.objects.exists()
    assert balance(rich) == 100


def test_a_voucher_in_a_basket_being_checked_out_is_not_given_back(rich):
    basket = priced_basket(rich)
    used = redemption.redeem_points(rich, basket, 60)
    basket.freeze()  # Oscar's checkout: paying
    assert redemption.restore(used.pk) is None
    assert redemption.fit_to_basket(priced_basket(rich, basket=basket)) is None
    assert balance(rich) == 40
    basket.thaw()  # the payment failed: the customer may take it out again
    assert redemption.restore(used.pk) is not None
    assert balance(rich) == 100


def test_cancelling_the_order_still_gives_the_points_back_once(rich):
    basket = priced_basket(rich)
    used = redemption.redeem_points(rich, basket, 60)
    order = create_order(basket=priced_basket(rich, basket=basket), user=rich)
    assert redemption.restore(used.pk) is None
    order.set_status("Cancelled")
    order.set_status("Cancelled")
    assert balance(rich) == 100
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.RESTORE).count() == 1
