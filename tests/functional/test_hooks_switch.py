"""OSCAR_LOYALTY_HOOKS = False: the same store, as if the plugin were not hooked into Oscar.

bench/load.py compares a store with the plugin against the same store with this
switch off, so the switch must really take every hook out: receivers,
middleware and template blocks. Each test checks one hook both ways, so it
fails if the switch does nothing or if the hook itself is missing.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import time_machine
from django.core import checks
from django.core.cache import cache
from django.test import override_settings
from oscar.core.loading import get_model
from oscar.test.factories import create_product, create_stockrecord

from oscar_loyalty import ledger
from oscar_loyalty.checks import check_settings
from oscar_loyalty.coupons.creation import CouponSpec, save_coupon
from oscar_loyalty.models import PendingAward
from tests.helpers import messages

pytestmark = pytest.mark.django_db
Basket = get_model("basket", "Basket")
Voucher = get_model("voucher", "Voucher")
NOW = datetime(2026, 5, 4, 12, tzinfo=UTC)
OFF = override_settings(OSCAR_LOYALTY_HOOKS=False)


@pytest.fixture(autouse=True)
def frozen_and_fresh():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def lamp():
    product = create_product(title="Lamp", attributes={"brand": "Luz"})
    create_stockrecord(product, price=D("120.00"), num_in_stock=100)
    return product


def add(app, product, user):
    page = app.get(product.get_absolute_url(), user=user)
    page.forms["add_to_basket_form"].submit(user=user)
    return app.get("/basket/", user=user)


def coupon(code="SAVE10"):
    return save_coupon(
        CouponSpec(
            name=code,
            code=code,
            kind="percentage",
            value=D("10"),
            start=NOW - timedelta(days=1),
            end=NOW + timedelta(days=30),
        )
    )


@pytest.mark.parametrize("hooks", [True, False])
def test_placing_an_order_records_an_award_only_with_the_hooks_on(customer, place_order, hooks):
    with override_settings(OSCAR_LOYALTY_HOOKS=hooks):
        order = place_order(customer)
    assert PendingAward.objects.filter(order=order).exists() is hooks


@pytest.mark.parametrize(
    "receiver,target,args",
    [
        ("voucher_used", "orders.discount_recorded", {"instance": "discount", "created": True}),
        (
            "order_cancelled",
            "orders.cancelled",
            {"order": 1, "old_status": "A", "new_status": "Cancelled"},
        ),
        (
            "line_refunded",
            "orders.refunded",
            {"line": "line", "old_status": "A", "new_status": "Refunded"},
        ),
        ("points_voucher_removed", "redemption.voucher_removed", {"basket": 1, "voucher": 2}),
        (
            "_signed_up",
            "referrals.signed_up",
            {"request": None, "user": type("User", (), {"pk": 1})()},
        ),
    ],
)
def test_each_receiver_of_oscars_events_does_nothing_with_the_hooks_off(
    monkeypatch, receiver, target, args
):
    from oscar_loyalty import receivers

    module, name = target.split(".")
    calls = []
    monkeypatch.setattr(getattr(receivers, module), name, lambda *a, **k: calls.append(a))
    if receiver == "voucher_used":
        args = {**args, "instance": type("Discount", (), {"voucher_id": 1, "order": None})()}
    if receiver == "line_refunded":
        args = {**args, "line": type("Line", (), {"order": None})()}
    with OFF:
        getattr(receivers, receiver)(sender=None, **args)
    assert calls == []
    getattr(receivers, receiver)(sender=None, **args)
    assert len(calls) == 1


def test_basket_page_shows_oscars_voucher_form_and_no_points_with_the_hooks_off(
    django_app, customer, lamp
):
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="seed")
    on = add(django_app, lamp, customer)
    assert on.forms["voucher_form"].action == "/basket/coupon/"
    assert "use-points-form" in on.forms
    with OFF:
        off = django_app.get("/basket/", user=customer)
    assert off.forms["voucher_form"].action == "/basket/vouchers/add/"
    assert "use-points-form" not in off.forms
    assert off.html.select_one("#use-points") is None


def test_oscars_voucher_view_is_not_rerouted_with_the_hooks_off(django_app, customer, lamp):
    coupon()
    add(django_app, lamp, customer)
    with OFF:
        page = django_app.post(
            "/basket/vouchers/add/",
            {"code": "SAVE10", "csrfmiddlewaretoken": django_app.cookies.get("csrftoken", "")},
            user=customer,
        ).follow(user=customer)
    # Oscar's own view and its own words, not the plugin's "Coupon SAVE10 applied ...".
    assert messages(page) == ["Coupon 'SAVE10' added to cart"]
    Basket.objects.get().vouchers.clear()
    page = django_app.post(
        "/basket/vouchers/add/",
        {"code": "SAVE10", "csrfmiddlewaretoken": django_app.cookies.get("csrftoken", "")},
        user=customer,
    ).follow(user=customer)
    assert messages(page) == ["Coupon SAVE10 applied to your basket."]


def test_expired_coupon_stays_in_the_basket_with_the_hooks_off(django_app, customer, lamp):
    voucher = coupon()
    add(django_app, lamp, customer)
    Basket.objects.get().vouchers.add(voucher)
    Voucher.objects.filter(pk=voucher.pk).update(end_datetime=NOW - timedelta(hours=1))
    with OFF:
        django_app.get("/basket/", user=customer)
    assert Basket.objects.get().vouchers.exists()
    django_app.get("/basket/", user=customer)
    assert not Basket.objects.get().vouchers.exists()


def test_account_pages_have_no_rewards_tab_with_the_hooks_off(django_app, customer):
    assert django_app.get("/accounts/profile/", user=customer).html.select_one(
        "a[href='/accounts/rewards/']"
    )
    with OFF:
        page = django_app.get("/accounts/profile/", user=customer)
    assert page.html.select_one("a[href='/accounts/rewards/']") is None


def test_thank_you_page_shows_no_points_with_the_hooks_off(
    django_app, customer, place_order, django_user_model
):
    order = place_order(customer)
    # Oscar lets a superuser open any order's thank-you page by its number.
    boss = django_user_model.objects.create_superuser("boss", "boss@example.com", "x")
    url = f"/checkout/thank-you/?order_number={order.number}"
    assert django_app.get(url, user=boss).html.select_one("#order-points")
    with OFF:
        page = django_app.get(url, user=boss)
    assert str(order.number) in page.text
    assert page.html.select_one("#order-points") is None


@pytest.mark.parametrize("value", ["no", 0, None])
def test_a_switch_that_is_not_true_or_false_is_an_error(value):
    with override_settings(OSCAR_LOYALTY_HOOKS=value):
        assert [e.id for e in check_settings()] == ["oscar_loyalty.E042"]


def test_hooks_off_is_warned_about():
    with OFF:
        found = check_settings()
    assert [(e.id, e.level) for e in found] == [("oscar_loyalty.W042", checks.WARNING)]


def test_thank_you_page_makes_no_basket_and_adds_only_the_points_queries(
    django_app, customer, place_order, django_user_model
):
    """The thank-you page does not use the basket: the basket check must not load one (for a
    customer whose basket was just submitted, loading it creates a new one: 7 queries)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    order = place_order(customer)
    boss = django_user_model.objects.create_superuser("boss", "boss@example.com", "x")
    url = f"/checkout/thank-you/?order_number={order.number}"
    django_app.get(url, user=boss)  # signs in; the session is made
    counts = {}
    for hooks in (False, True):
        with override_settings(OSCAR_LOYALTY_HOOKS=hooks):
            with CaptureQueriesContext(connection) as queries:
                django_app.get(url, user=boss)
        counts[hooks] = len(queries)
    assert not Basket.objects.filter(owner=boss).exists()
    # What the points box reads (the award, or its estimate) and nothing else.
    assert counts[True] - counts[False] <= 3, counts
