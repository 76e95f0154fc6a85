"""A restore and Oscar's ``place_order`` racing for one points voucher, on PostgreSQL.

The basket was priced with the voucher; then the customer's other tab takes it
out (a restore) while this tab places the order. Exactly one wins: the order
with the voucher used, or the points back and the order refused with a
message. Never both.
"""

import threading
import time
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from oscar.apps.offer.applicator import Applicator
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_class, get_model
from oscar.test.factories import create_order, create_product, create_stockrecord

from oscar_loyalty import ledger, redemption
from oscar_loyalty.models import LedgerEntry, Redemption
from tests.helpers import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
Basket = get_model("basket", "Basket")
Order = get_model("order", "Order")
UnableToPlaceOrder = get_class("order.exceptions", "UnableToPlaceOrder")


def voucher_basket(n):
    user = get_user_model().objects.create_user(f"racer{n}", f"racer{n}@example.com")
    ledger.earn(ledger.get_account(user), 100, key=f"seed:{n}", reason="r")
    product = create_product(title=f"Lamp {n}")
    create_stockrecord(product, price=D("120.00"), num_in_stock=10)
    basket = Basket.objects.create(owner=user)
    basket.strategy = Default()
    basket.add_product(product)
    used = redemption.redeem_points(user, basket, 60)
    basket = Basket.objects.get(pk=basket.pk)
    basket.strategy = Default()
    Applicator().apply(basket, user)
    assert basket.total_incl_tax == D("60.00")
    return user, basket, used


def outcome(user, used, placed, restored):
    """Check one race's end state; return who won."""
    used.refresh_from_db()
    account = ledger.get_account(user)
    assert account.balance == ledger.balance_from_entries(account)
    if isinstance(placed, Order):
        assert restored is None, "the order kept the discount and the points came back"
        assert (used.status, used.order, account.balance) == (Redemption.Status.USED, placed, 40)
        return "placed"
    assert isinstance(placed, UnableToPlaceOrder), placed
    assert isinstance(restored, LedgerEntry), restored
    assert (used.status, account.balance) == (Redemption.Status.RESTORED, 100)
    assert not Order.objects.filter(user=user).exists()
    return "restored"


def race(n):
    user, basket, used = voucher_basket(n)

    def work(i):
        if i == 0:
            return create_order(basket=basket, user=user)
        return redemption.restore(used.pk, "Points voucher removed from the basket")

    placed, restored = run_together(2, work)
    return outcome(user, used, placed, restored)


def test_started_together_one_wins():
    won = [race(n) for n in range(6)]
    print("order placed / points back:", won.count("placed"), won.count("restored"))


def test_a_restore_while_the_order_holds_the_voucher_waits_and_is_refused(monkeypatch):
    use_in_order = redemption.use_in_order
    holding, results = threading.Event(), {}

    def slow_use_in_order(order, voucher_id):
        use_in_order(order, voucher_id)
        holding.set()
        time.sleep(0.5)  # the restore queues on the voucher's lock meanwhile

    monkeypatch.setattr(redemption, "use_in_order", slow_use_in_order)
    user, basket, used = voucher_basket(0)

    def restore_when_held():
        holding.wait(10)
        results["restored"] = redemption.restore(used.pk)

    restorer = threading.Thread(target=lambda: run_together(1, lambda i: restore_when_held()))
    restorer.start()
    placed = create_order(basket=basket, user=user)
    restorer.join(20)
    assert outcome(user, used, placed, results["restored"]) == "placed"
