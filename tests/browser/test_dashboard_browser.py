import os
import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.utils import timezone
from oscar.core.loading import get_model

from .conftest import DESKTOP, PHONE, log_in

# Playwright's sync API runs an event loop in this thread; the ORM is only used
# before the browser starts, so Django's guard against async use can stand down.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
User = get_model("auth", "User")
Order = get_model("order", "Order")
SIZES = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture
def sandbox(live_server):
    """The demo shop, with a few more orders: a returning guest and a customer at risk."""
    call_command("load_demo", stdout=open(os.devnull, "w"))
    customer = User.objects.get(email="customer@example.com")
    now = timezone.now()
    once = User.objects.create_user(username="once", email="once@example.com")
    guest = "g@example.com"
    orders = [(customer, "", 3), (customer, "", 12), (None, guest, 5), (None, guest, 9)]
    for n, (user, email, days) in enumerate([*orders, (once, "", 80)]):
        Order.objects.create(
            number=f"KPI-{n}",
            user=user,
            guest_email=email,
            currency="USD",
            total_incl_tax=D("40.00") + n,
            total_excl_tax=D("40.00"),
            date_placed=now - timedelta(days=days),
        )
    return live_server.url


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_staff_read_the_program_figures(chromium, sandbox, screenshot, size):
    page = chromium.new_context(viewport=SIZES[size]).new_page()
    try:
        log_in(page, sandbox, "admin@example.com", "admin")
        page.goto(f"{sandbox}/dashboard/")
        assert page.locator("a[href='/dashboard/loyalty/kpis/']").count() == 1  # in the menu
        page.goto(f"{sandbox}/dashboard/loyalty/kpis/")
        page.select_option("#id_days", "90")
        page.click("#period-form button[type=submit]")
        page.wait_for_url(re.compile(r".*days=90"))
        assert int(page.inner_text("#kpi-issued")) > 0
        assert page.locator("svg.loyalty-chart rect").count() > 90  # 90 days of bars
        assert "Customers who come back" in page.inner_text("#content, body")
        path = screenshot(page, f"dashboard-kpis-{size}")
        assert path.stat().st_size > 10_000
        with page.expect_download() as download:
            page.click("#kpi-csv")
        assert download.value.suggested_filename == "loyalty-kpis.csv"
        page.click("text=Customers at risk (no second order)")
        assert "once@example.com" in page.inner_text("#at-risk-list")
        screenshot(page, f"dashboard-at-risk-{size}")
    finally:
        page.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_staff_find_a_customer_and_adjust_their_points(chromium, sandbox, screenshot, size):
    page = chromium.new_context(viewport=SIZES[size]).new_page()
    try:
        log_in(page, sandbox, "admin@example.com", "admin")
        page.goto(f"{sandbox}/dashboard/loyalty/customers/")
        page.fill("#id_q", "customer@exa")
        page.click("#customer-search button[type=submit]")
        page.click("#customer-list >> text=Open")
        page.wait_for_selector("#customer-balance")
        before = int(page.inner_text("#customer-balance"))
        page.fill("#id_points", "15")
        page.fill("#id_reason", "Sorry for the late parcel")
        page.click("#adjust-form button[type=submit]")
        page.wait_for_selector("#messages .alert")
        assert int(page.inner_text("#customer-balance")) == before + 15
        first = page.inner_text("#customer-ledger tbody tr >> nth=0")
        assert "Sorry for the late parcel" in first
        # Who adjusted is audited; a phone shows only date, points and reason.
        assert ("admin@example.com" in first) == (size == "desktop")
        screenshot(page, f"dashboard-customer-{size}")
        page.fill("#id_points", "-100000")
        page.fill("#id_reason", "Too much")
        page.click("#adjust-form button[type=submit]")
        assert "Not enough points" in page.inner_text("#adjust-form")
        assert int(page.inner_text("#customer-balance")) == before + 15
    finally:
        page.context.close()
