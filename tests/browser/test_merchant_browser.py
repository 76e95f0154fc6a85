"""The merchant's pages in headless Chromium: coupon list, reward form, in store, records."""

import os
import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.utils import timezone
from oscar.core.loading import get_model

from .conftest import DESKTOP, PHONE, log_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
SIZES = {"desktop": DESKTOP, "phone": PHONE}
Voucher = get_model("voucher", "Voucher")


@pytest.fixture
def sandbox(live_server):
    """The demo shop, with an expired coupon and a limited one."""
    from oscar_loyalty.coupons.creation import CouponSpec, save_coupon

    call_command("load_demo", stdout=open(os.devnull, "w"))
    now = timezone.now()
    save_coupon(
        CouponSpec(
            name="Black Friday 2025",
            code="BF2025",
            kind="fixed",
            value=D("10"),
            start=now - timedelta(days=400),
            end=now - timedelta(days=360),
            max_uses=500,
        )
    )
    Voucher.objects.filter(code="BF2025").update(num_orders=412)
    return live_server.url


def staff_page(chromium, size, base):
    page = chromium.new_context(viewport=SIZES[size]).new_page()
    log_in(page, base, "admin@example.com", "admin")
    return page


def no_overflow(page):
    """Nothing sticks out of the page sideways (a table scrolls in its own box)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_staff_read_and_search_the_coupon_list(chromium, sandbox, screenshot, size):
    page = staff_page(chromium, size, sandbox)
    try:
        page.goto(f"{sandbox}/dashboard/loyalty/coupons/")
        listed = page.inner_text("#coupon-list")
        assert "15% off, not on Andes" in listed
        assert "Free shipping, on baskets of $50.00 or more" in listed
        assert "412 of 500" in listed and "Expired" in listed
        assert no_overflow(page)
        screenshot(page, f"dashboard-coupons-{size}")
        page.fill("#id_q", "spring")
        page.click("#coupon-search button[type=submit]")
        page.wait_for_url(re.compile(r".*q=spring"))
        rows = page.locator("#coupon-list tbody tr")
        assert rows.count() == 1 and "SPRING15" in rows.first.inner_text()
    finally:
        page.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_staff_create_a_free_product_reward_with_the_product_chooser(
    chromium, sandbox, screenshot, size
):
    from oscar_loyalty.models import Reward

    page = staff_page(chromium, size, sandbox)
    try:
        page.goto(f"{sandbox}/dashboard/loyalty/rewards/create/")
        assert page.input_value("#id_starts_at").startswith(f"{timezone.localdate():%Y-%m-%d}")
        assert page.input_value("#id_ends_at")
        page.fill("#id_name", "A free mug")
        page.fill("#id_cost", "80")
        page.select_option("#id_kind", "discount")
        assert page.is_visible("#id_value") and not page.is_visible("#id_product")
        page.select_option("#id_kind", "free_shipping")
        assert not page.is_visible("#id_value")
        page.select_option("#id_kind", "free_product")
        assert not page.is_visible("#id_value")
        # Oscar's product chooser: select2, looking products up as one types.
        page.click("#id_product + .select2 .select2-selection")
        page.fill(".select2-search__field", "chocolate")
        page.click(".select2-results__option >> text=Dark chocolate bar")
        screenshot(page, f"dashboard-reward-form-{size}")
        page.click("#reward-form button[type=submit]")
        page.wait_for_selector("#reward-list")
        reward = Reward.objects.get(name="A free mug")
        assert reward.kind == "free_product" and reward.product.title == "Dark chocolate bar"
        assert reward.value is None and reward.is_available()
    finally:
        page.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_staff_award_a_till_purchase_and_hand_a_reward_over(chromium, sandbox, screenshot, size):
    page = staff_page(chromium, size, sandbox)
    try:
        page.goto(f"{sandbox}/dashboard/")
        assert page.locator("a[href='/dashboard/loyalty/in-store/']").count() == 1
        page.goto(f"{sandbox}/dashboard/loyalty/in-store/")
        page.fill("#id_purchase-customer", "customer@example.com")
        page.fill("#id_purchase-receipt", f"MAD1-{size}")
        page.fill("#id_purchase-amount", "420.00")
        page.click("#purchase-form button[type=submit]")
        message = page.inner_text("#messages")
        assert re.search(rf"Receipt MAD1-{size}: \+\d+ points for customer@example.com", message)
        page.fill("#id_purchase-customer", "customer@example.com")
        page.fill("#id_purchase-receipt", f"MAD1-{size}")
        page.fill("#id_purchase-amount", "420.00")
        page.click("#purchase-form button[type=submit]")
        assert "already recorded: nothing changed" in page.inner_text("#messages")
        page.fill("#id_reward-customer", "customer@example.com")
        page.fill("#id_reward-receipt", f"MAD1-{size}")
        page.select_option("#id_reward-reward", label="A free dark chocolate bar (40 points)")
        page.click("#reward-counter-form button[type=submit]")
        assert "-40 points for customer@example.com" in page.inner_text("#messages")
        assert no_overflow(page)
        screenshot(page, f"dashboard-in-store-{size}")
        page.fill("#id_purchase-customer", "nobody-at-all")
        page.fill("#id_purchase-receipt", "MAD1-9")
        page.fill("#id_purchase-amount", "10")
        page.click("#purchase-form button[type=submit]")
        assert "No customer has this" in page.inner_text("#purchase-form")
        screenshot(page, f"dashboard-in-store-error-{size}")
    finally:
        page.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_staff_read_the_ledger_in_the_records(chromium, sandbox, screenshot, size):
    page = staff_page(chromium, size, sandbox)
    try:
        page.goto(f"{sandbox}/dashboard/loyalty/records/entries/")
        assert page.locator("#record-list tbody tr").count() > 0
        page.select_option("#record-kind", "earn")
        page.click("#record-search button[type=submit]")
        page.wait_for_url(re.compile(r".*kind=earn"))
        kinds = page.locator("#record-list tbody tr td:nth-child(3)").all_inner_texts()
        assert kinds and set(kinds) == {"Earned"}
        assert no_overflow(page)
        screenshot(page, f"dashboard-records-{size}")
    finally:
        page.context.close()
