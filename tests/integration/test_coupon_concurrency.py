"""A single-use coupon in two checkouts at the same moment gives one discount."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone
from oscar.apps.offer.applicator import Applicator
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_model
from oscar.test.factories import create_order, create_product, create_stockrecord

from oscar_loyalty.coupons.creation import CouponSpec, save_coupon
from tests.helpers import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
Basket = get_model("basket", "Basket")
Order = get_model("order", "Order")


def test_single_use_coupon_raced_by_two_checkouts(django_user_model):
    now = timezone.now()
    voucher = save_coupon(
        CouponSpec(
            name="Once",
            code="ONLYONCE",
            kind="fixed",
            value=D("15"),
            start=now - timedelta(days=1),
            end=now + timedelta(days=1),
            usage="Single use",
        )
    )
    product = create_product(title="Lamp")
    create_stockrecord(product, price=D("60.00"), num_in_stock=10)
    baskets = []
    for i in range(2):
        user = django_user_model.objects.create_user(f"buyer{i}", f"buyer{i}@example.com")
        basket = Basket.objects.create(owner=user)
        basket.strategy = Default()
        basket.add_product(product)
        basket.vouchers.add(voucher)
        Applicator().apply(basket, user)
        assert basket.total_discount == D("15.00")
        baskets.append((basket, user))

    results = run_together(2, lambda i: create_order(basket=baskets[i][0], user=baskets[i][1]))
    orders = [r for r in results if isinstance(r, Order)]
    assert len(orders) == 1, results
    refused = [r for r in results if not isinstance(r, Order)]
    assert "already been used" in str(refused[0])
    assert voucher.applications.count() == 1
    assert Order.objects.get().total_discount_incl_tax == D("15.00")
