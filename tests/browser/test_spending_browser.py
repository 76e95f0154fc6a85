import os
import re

import pytest
from django.core.management import call_command
from oscar.core.loading import get_model

from .conftest import DESKTOP, log_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
Product = get_model("catalogue", "Product")


def test_customer_pays_with_points_and_sees_the_spend_in_history(live_server, chromium, screenshot):
    call_command("load_demo", stdout=open(os.devnull, "w"))
    skillet = Product.objects.get(title="Cast iron skillet").get_absolute_url()
    page = chromium.new_context(viewport=DESKTOP).new_page()
    base = live_server.url

    log_in(page, base, "customer@example.com", "customer")
    page.goto(base + skillet)
    page.click("#add_to_basket_form button[type=submit]")
    page.goto(base + "/basket/")

    assert "You have 30 points, worth $30.00." in " ".join(page.inner_text("#use-points").split())
    page.fill("#use-points-form input[name=points]", "25")
    page.click("#use-points-form button[type=submit]")
    page.wait_for_selector("#messages .alert")
    assert "You used 25 points: $25.00 off your basket." in page.inner_text("#messages")
    totals = " ".join(page.inner_text("#basket_totals").split())
    assert "$29.00" in totals  # $54.00 skillet less $25.00
    screenshot(page, "points-in-basket")

    page.click("text=Proceed to checkout")
    page.click("button.ship-address")
    page.wait_for_url(re.compile(r".*/checkout/payment-details/.*"))
    page.click("#view_preview")
    page.wait_for_url(re.compile(r".*/checkout/preview/.*"))
    preview = " ".join(page.inner_text("#use-points").split())
    assert "25 points used: $25.00 off this basket." in preview
    screenshot(page, "points-at-checkout-preview")
    page.click("#place-order")
    page.wait_for_url(re.compile(r".*/checkout/thank-you/.*"))
    number = re.search(r"\d{6}", page.inner_text("h1, .sub-header, body")).group(0)
    earned = " ".join(page.inner_text("#order-points").split())
    assert "This order earns you 2 points, yours on" in earned  # on the $29 paid
    screenshot(page, "points-on-the-confirmation")

    page.goto(base + "/accounts/rewards/")
    history = " ".join(page.inner_text("#rewards-history").split())
    assert f"Used in order {number} -25 5" in history, history
    pending = " ".join(page.inner_text("#rewards-pending").split())
    assert f"2 points from order {number}" in pending  # on the $29 paid
    screenshot(page, "points-spent-history")
    page.context.close()
