import os
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.management import call_command
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_loyalty import segments
from oscar_loyalty.consent import set_marketing_consent
from oscar_loyalty.models import (
    Birthday,
    BonusAction,
    BonusCampaign,
    MarketingConsent,
    Segment,
    WinBackCampaign,
)

from .conftest import DESKTOP, PHONE, log_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
User = get_model("auth", "User")
Order = get_model("order", "Order")
SIZES = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture
def sandbox(live_server):
    """The demo shop with a birthday bonus, a segment, a double-points campaign for it
    and a win-back campaign."""
    call_command("load_demo", stdout=open(os.devnull, "w"))
    customer = User.objects.get(email="customer@example.com")
    set_marketing_consent(customer, True, MarketingConsent.Source.ACCOUNT)
    BonusAction.objects.create(action="birthday", enabled=True, points=50)
    BonusAction.objects.create(action="review", enabled=True, points=15, daily_cap=3)
    Order.objects.create(
        number="SEG-1",
        user=customer,
        currency="USD",
        total_incl_tax=D("40.00"),
        total_excl_tax=D("40.00"),
        date_placed=timezone.now() - timedelta(days=90),
    )
    regulars = Segment.objects.create(name="Bought before", min_orders=1)
    segments.save_condition(regulars)
    BonusCampaign.objects.create(
        name="Double points for regulars",
        multiplier=D("2"),
        segment=regulars,
        ends_at=timezone.now() + timedelta(days=10),
    )
    WinBackCampaign.objects.create(
        name="We miss you", enabled=True, days=60, kind="percentage", value=D("15")
    )
    return live_server.url


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_customer_gives_their_birthday_and_sees_the_campaign(
    chromium, sandbox, screenshot, size, language
):
    page = chromium.new_context(viewport=SIZES[size]).new_page()
    prefix = "" if language == "en" else "/es"
    try:
        log_in(page, sandbox, "customer@example.com", "customer", prefix=prefix)
        page.goto(f"{sandbox}{prefix}/accounts/rewards/")
        campaign = page.inner_text("#rewards-campaigns")
        assert "Double points for regulars" in campaign
        page.fill("#id_birthday_day", "10")
        page.select_option("#id_birthday_month", "5")
        page.check("#id_birthday_consent")
        page.click("#rewards-birthday button[type=submit]")
        page.wait_for_selector("#rewards-birthday form.form-inline")
        assert Birthday.objects.get().day == 10
        path = screenshot(page, f"rewards-birthday-{size}-{language}")
        assert path.stat().st_size > 10_000
    finally:
        page.context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_staff_see_bonus_actions_segments_and_win_back(chromium, sandbox, screenshot, size):
    page = chromium.new_context(viewport=SIZES[size]).new_page()
    try:
        log_in(page, sandbox, "admin@example.com", "admin")
        page.goto(f"{sandbox}/dashboard/loyalty/bonus/")
        assert page.locator("#bonus-action-list tbody tr").count() == 4
        screenshot(page, f"dashboard-bonus-actions-{size}")
        page.goto(f"{sandbox}/dashboard/loyalty/segments/")
        assert page.inner_text("#segment-list .member-count") == "1"
        screenshot(page, f"dashboard-segments-{size}")
        page.goto(f"{sandbox}/dashboard/loyalty/win-back/")
        assert "We miss you" in page.inner_text("#winback-list")
        screenshot(page, f"dashboard-winback-{size}")
    finally:
        page.context.close()
