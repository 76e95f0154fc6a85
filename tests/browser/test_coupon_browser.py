import os
import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_loyalty.coupons.creation import CouponSpec, save_coupon

from .conftest import DESKTOP

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
Product = get_model("catalogue", "Product")


def make(code, start, end):
    save_coupon(
        CouponSpec(name=code, code=code, kind="percentage", value=D("10"), start=start, end=end)
    )


def test_a_valid_code_discounts_the_basket_and_an_expired_one_is_refused(
    live_server, chromium, screenshot
):
    call_command("load_demo", stdout=open(os.devnull, "w"))
    now = timezone.now()
    make("SAVE10", now - timedelta(days=1), now + timedelta(days=10))
    make("SUMMER25", now - timedelta(days=60), now - timedelta(days=2))
    jacket = Product.objects.get(title="Rain jacket").get_absolute_url()

    page = chromium.new_context(viewport=DESKTOP).new_page()
    page.goto(live_server.url + jacket)
    page.click("#add_to_basket_form button[type=submit]")
    page.goto(live_server.url + "/basket/")

    page.fill("#voucher_form input[name=code]", " save10 ")
    page.click("#voucher_form button[type=submit]")
    page.wait_for_selector("#messages .alert")
    assert "Coupon SAVE10 applied to your basket." in page.inner_text("#messages")
    totals = " ".join(page.inner_text("#basket_totals").split())
    assert "$108.00" in totals  # $120.00 less 10%
    screenshot(page, "coupon-applied")

    page.fill("#voucher_form input[name=code]", "summer25")
    page.click("#voucher_form button[type=submit]")
    page.wait_for_selector("#messages .alert")
    message = page.inner_text("#messages")
    assert re.search(r"This coupon expired on \w+\.? \d+, \d{4}", message), message
    assert "$108.00" in " ".join(page.inner_text("#basket_totals").split())
    screenshot(page, "coupon-expired")
    page.context.close()
