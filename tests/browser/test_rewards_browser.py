import os
import re

import pytest
from django.core.management import call_command

from .conftest import DESKTOP, PHONE, log_in

# Playwright's sync API runs an event loop in this thread; the ORM is only used
# before the browser starts, so Django's guard against async use can stand down.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

TEXT = {
    "en": {
        "tab": "Rewards",
        "balance": "30 points",
        "pending": r"5 points from order \d+ available on",
        "earned": r"Order \d+",
    },
    "es": {
        "tab": "Recompensas",
        "balance": "30 puntos",
        "pending": r"5 puntos del pedido \d+ disponibles el",
        "earned": r"Pedido \d+",
    },
}


@pytest.fixture
def sandbox(live_server):
    call_command("load_demo", stdout=open(os.devnull, "w"))
    return live_server.url


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_demo_customer_opens_rewards_from_the_account_menu(
    chromium, sandbox, screenshot, language, size
):
    words = TEXT[language]
    prefix = "" if language == "en" else f"/{language}"
    context = chromium.new_context(viewport=DESKTOP if size == "desktop" else PHONE)
    page = context.new_page()
    try:
        log_in(page, sandbox, "customer@example.com", "customer", prefix)
        page.goto(f"{sandbox}{prefix}/accounts/profile/")
        page.click(f".nav-pills >> text={words['tab']}")
        page.wait_for_url(re.compile(r".*/accounts/rewards/$"))

        balance = page.locator("#rewards-balance")
        assert words["balance"] in balance.inner_text()
        assert balance.is_visible()
        pending = page.locator("#rewards-pending").inner_text()
        assert re.search(words["pending"], " ".join(pending.split())), pending
        history = page.locator("#rewards-history tbody tr")
        assert history.count() == 2
        assert re.search(words["earned"], history.nth(1).inner_text())
        # Nothing runs off the side of a phone's screen.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"page is {overflow}px wider than the window"
        screenshot(page, f"rewards-{language}-{size}")
    finally:
        context.close()
