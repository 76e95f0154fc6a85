"""The tier section of the Rewards page in Chromium: English and Spanish, desktop and phone."""

import os
import re
from decimal import Decimal as D

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from oscar_loyalty import tiers
from oscar_loyalty.models import Tier

from .conftest import DESKTOP, PHONE, log_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

TEXT = {
    "en": {"tier": "Silver", "progress": r"Spend \$[\d,.]+ more before .+ to reach Gold\."},
    "es": {
        "tier": "Plata",
        "progress": r"Gasta [\d.,]+\s?US\$ más antes del .+ para llegar a Oro\.",
    },
}


@pytest.fixture
def sandbox(live_server):
    call_command("load_demo", stdout=open(os.devnull, "w"))
    Tier.objects.create(
        name="Silver",
        name_translations={"es": "Plata"},
        level=1,
        threshold=D("10"),
        multiplier=D("1.25"),
    )
    Tier.objects.create(
        name="Gold",
        name_translations={"es": "Oro"},
        level=2,
        threshold=D("100000"),
        measure=Tier.Measure.SPEND,
        period=Tier.Period.YEAR,
    )
    Tier.objects.create(name="Black", level=3, threshold=D("999999"), hidden=True)
    customer = get_user_model().objects.get(email="customer@example.com")
    staff = get_user_model().objects.create_user("boss", "boss@example.com", "x", is_staff=True)
    tiers.move(customer, Tier.objects.get(level=1), "Welcome to Silver", staff)
    return live_server.url


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_tier_on_the_rewards_page(chromium, sandbox, screenshot, language, size):
    words = TEXT[language]
    prefix = "" if language == "en" else f"/{language}"
    context = chromium.new_context(viewport=DESKTOP if size == "desktop" else PHONE)
    page = context.new_page()
    try:
        log_in(page, sandbox, "customer@example.com", "customer", prefix)
        page.goto(f"{sandbox}{prefix}/accounts/rewards/")
        section = page.locator("#rewards-tier")
        assert section.is_visible()
        assert page.locator("#tier-name").inner_text().strip() == words["tier"]
        text = " ".join(section.inner_text().split())
        assert re.search(words["progress"], text), text
        assert "Black" not in text  # hidden until reached
        assert "Welcome to Silver" in text
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"page is {overflow}px wider than the window"
        section.scroll_into_view_if_needed()
        screenshot(page, f"tiers-{language}-{size}")
    finally:
        context.close()
