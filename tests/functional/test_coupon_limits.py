"""Guessing coupon codes: one limit and one set of answers on every route that adds a voucher."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import time_machine
from django.core.cache import cache
from django.test import override_settings
from oscar.core.loading import get_model
from oscar.test.factories import create_order, create_product, create_stockrecord

from oscar_loyalty.coupons.creation import CouponSpec, save_coupon
from tests.helpers import messages

pytestmark = pytest.mark.django_db
Basket = get_model("basket", "Basket")
NOW = datetime(2026, 5, 4, 12, tzinfo=UTC)
OURS, OSCARS = "/basket/coupon/", "/basket/vouchers/add/"
NOT_VALID = ["This code is not valid."]
THROTTLED = ["Too many attempts with coupon codes. Please try again later."]


@pytest.fixture(autouse=True)
def frozen_and_fresh():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def app(django_app_factory):
    return django_app_factory(csrf_checks=False)


@pytest.fixture
def shoes():
    p = create_product(title="Trail shoes")
    create_stockrecord(p, price=D("80.00"), num_in_stock=100)
    return p


@pytest.fixture
def save10():
    return save_coupon(
        CouponSpec(
            name="Ten off",
            code="SAVE10",
            kind="percentage",
            value=D("10"),
            start=NOW - timedelta(days=1),
            end=NOW + timedelta(days=30),
        )
    )


def fill_basket(app, product, user=None, addr="198.51.100.7"):
    page = app.get(product.get_absolute_url(), user=user, extra_environ={"REMOTE_ADDR": addr})
    page = page.forms["add_to_basket_form"].submit(user=user, extra_environ={"REMOTE_ADDR": addr})
    page.follow(user=user, extra_environ={"REMOTE_ADDR": addr})  # its messages shown


def attempt(app, code, addr="198.51.100.7", url=OURS, user=None, **environ):
    response = app.post(
        url, {"code": code}, user=user, extra_environ={"REMOTE_ADDR": addr, **environ}
    )
    assert response.status_code == 302
    return messages(response.follow(user=user, extra_environ={"REMOTE_ADDR": addr}))


# 1. Oscar's own voucher URL ------------------------------------------------------


def test_oscars_voucher_url_gives_the_same_answers(app, shoes, save10):
    save_coupon(
        CouponSpec(
            name="Old",
            code="OLD",
            kind="percentage",
            value=D("10"),
            start=NOW - timedelta(days=9),
            end=NOW - timedelta(hours=1),
        )
    )
    fill_basket(app, shoes)
    assert attempt(app, "NOPE", url=OSCARS) == NOT_VALID
    assert attempt(app, "old", url=OSCARS) == attempt(app, "old", url=OURS)
    assert attempt(app, "save10", url=OSCARS) == ["Coupon SAVE10 applied to your basket."]
    assert list(Basket.objects.get().vouchers.values_list("code", flat=True)) == ["SAVE10"]


def test_oscars_voucher_url_counts_towards_the_same_limit(app, shoes, save10):
    fill_basket(app, shoes)
    for n in range(10):
        assert attempt(app, f"WRONG{n}", url=(OURS, OSCARS)[n % 2]) == NOT_VALID
    assert attempt(app, "SAVE10", url=OSCARS) == THROTTLED
    assert attempt(app, "SAVE10", url=OURS) == THROTTLED
    assert not Basket.objects.get().vouchers.exists()


def test_a_store_template_posting_to_oscars_url_is_protected(app, shoes, save10):
    """Oscar's own basket template (as a store that overrides ours would have it)."""
    from django.template.loader import get_template

    template = get_template("oscar/basket/partials/basket_content.html")
    assert "oscar_loyalty:coupon-add" in template.template.source  # ours
    fill_basket(app, shoes)
    for n in range(10):
        attempt(app, f"WRONG{n}", url=OSCARS)
    assert attempt(app, "SAVE10", url=OSCARS) == THROTTLED


# 2. Whom the limit counts ---------------------------------------------------------


def test_one_basket_from_many_addresses_is_blocked(app, shoes, save10):
    fill_basket(app, shoes)
    for n in range(10):
        assert attempt(app, f"WRONG{n}", addr=f"192.0.2.{n + 1}") == NOT_VALID
    assert attempt(app, "SAVE10", addr="192.0.2.200") == THROTTLED


def test_an_ipv6_network_counts_as_one_address(app, shoes, save10):
    with override_settings(OSCAR_LOYALTY_COUPON_MAX_FAILURES_PER_ADDRESS=5):
        for n in range(5):
            app.reset()  # a new visitor each time: no basket, no session
            assert attempt(app, f"WRONG{n}", addr=f"2001:db8:1:2:{n:x}::{n + 1}") == NOT_VALID
        app.reset()
        fill_basket(app, shoes, addr="2001:db8:1:2:ffff::9")
        assert attempt(app, "SAVE10", addr="2001:db8:1:2:ffff::9") == THROTTLED
        app.reset()
        fill_basket(app, shoes, addr="2001:db8:1:3::1")  # the next /64
        assert attempt(app, "SAVE10", addr="2001:db8:1:3::1") == [
            "Coupon SAVE10 applied to your basket."
        ]


def test_a_stranger_on_a_shared_address_does_not_lock_the_others_out(
    app, django_app_factory, shoes, save10
):
    fill_basket(app, shoes)
    for n in range(10):
        attempt(app, f"WRONG{n}")
    assert attempt(app, "SAVE10") == THROTTLED
    colleague = django_app_factory(csrf_checks=False)
    fill_basket(colleague, shoes)
    assert attempt(colleague, "SAVE10") == ["Coupon SAVE10 applied to your basket."]


@override_settings(OSCAR_LOYALTY_COUPON_MAX_FAILURES_PER_ADDRESS=5)
def test_a_customer_with_a_good_history_is_not_locked_out_by_strangers(
    app, django_app_factory, shoes, save10, customer, django_user_model
):
    for n in range(5):
        app.reset()
        attempt(app, f"WRONG{n}")
    app.reset()
    fill_basket(app, shoes)
    assert attempt(app, "SAVE10") == THROTTLED  # the address is full

    create_order(user=customer)
    regular = django_app_factory(csrf_checks=False)
    fill_basket(regular, shoes, user=customer)
    assert attempt(regular, "SAVE10", user=customer) == ["Coupon SAVE10 applied to your basket."]

    newcomer = django_user_model.objects.create_user("new", "new@example.com", "x")
    fresh = django_app_factory(csrf_checks=False)
    fill_basket(fresh, shoes, user=newcomer)
    assert attempt(fresh, "SAVE10", user=newcomer) == THROTTLED


def test_a_signed_in_customer_is_counted_whatever_the_session(
    django_app_factory, shoes, save10, customer
):
    for n in range(10):
        app = django_app_factory(csrf_checks=False)  # a new session each time
        attempt(app, f"WRONG{n}", addr=f"192.0.2.{n + 1}", user=customer)
    app = django_app_factory(csrf_checks=False)
    fill_basket(app, shoes, user=customer, addr="192.0.2.99")
    assert attempt(app, "SAVE10", addr="192.0.2.99", user=customer) == THROTTLED


@override_settings(OSCAR_LOYALTY_COUPON_MAX_FAILURES_PER_ADDRESS=10)
def test_a_forwarded_for_header_is_ignored_unless_configured(app, save10):
    for n in range(10):
        app.reset()
        attempt(app, f"WRONG{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}")
    app.reset()
    assert attempt(app, "SAVE10", HTTP_X_FORWARDED_FOR="192.0.2.77") == THROTTLED
    with override_settings(OSCAR_LOYALTY_CLIENT_IP_HEADER="HTTP_X_FORWARDED_FOR"):
        # The proxy appends the address it saw: the last one counts, not the forged first.
        app.reset()
        forwarded = "198.51.100.7, 192.0.2.77"
        assert attempt(app, "NOPE", addr="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded) == NOT_VALID
        app.reset()
        forged = "192.0.2.77, 198.51.100.7"
        assert attempt(app, "NOPE", addr="10.0.0.1", HTTP_X_FORWARDED_FOR=forged) == THROTTLED


# 9. Every refusal has the documented message ---------------------------------------


@pytest.mark.parametrize("code", ["x" * 100_001, "SAVE10\x00", "\x00"])
@pytest.mark.parametrize("url", [OURS, OSCARS])
def test_oversized_and_nul_input_get_the_documented_refusal(app, shoes, save10, code, url):
    fill_basket(app, shoes)
    assert attempt(app, code, url=url) == NOT_VALID
    assert not Basket.objects.get().vouchers.exists()


def test_oversized_input_counts_as_a_failure(app, shoes, save10):
    fill_basket(app, shoes)
    for _n in range(10):
        attempt(app, "x" * 100_001)
    assert attempt(app, "SAVE10") == THROTTLED


def test_an_empty_field_is_asked_for(app, shoes):
    fill_basket(app, shoes)
    assert attempt(app, "") == ["Please enter a coupon code."]
