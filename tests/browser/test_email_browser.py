"""The statement email's HTML as a mail client shows it: English and Spanish, desktop and phone."""

import os
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail

from oscar_loyalty import ledger, tasks
from oscar_loyalty.consent import set_marketing_consent
from oscar_loyalty.models import MarketingConsent

from .conftest import DESKTOP, PHONE

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.django_db, pytest.mark.browser]

TEXT = {
    "en": ("Your points in November 2026", "25 points", "Earned", "Unsubscribe"),
    "es": ("Tus puntos en noviembre 2026", "25 puntos", "Ganados", "Darse de baja"),
}


def statement_html(customer, language, place_order):
    set_marketing_consent(customer, True, MarketingConsent.Source.SIGNUP, language=language)
    account = ledger.get_account(customer)
    with time_machine.travel(datetime(2025, 12, 20, tzinfo=UTC), tick=False):
        ledger.earn(account, 30, key="old", reason="r")  # expires 20 December 2026
    with time_machine.travel(datetime(2026, 11, 3, tzinfo=UTC), tick=False):
        ledger.earn(account, 10, key="k1", reason="r")
        ledger.spend(account, 15, key="k2", reason="r")
    with time_machine.travel(datetime(2026, 11, 25, tzinfo=UTC), tick=False):
        place_order(customer, [("80.00", 1)])
    with time_machine.travel(datetime(2026, 12, 1, 8, 43, tzinfo=UTC), tick=False):
        tasks.send_statements()
    [message] = mail.outbox
    [(html, _mimetype)] = message.alternatives
    return html


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_statement_email_reads_well(chromium, screenshot, customer, place_order, language, size):
    html = statement_html(customer, language, place_order)
    viewport = DESKTOP if size == "desktop" else PHONE
    context = chromium.new_context(viewport=viewport)
    page = context.new_page()
    try:
        page.set_content(html)
        heading, balance, earned, unsubscribe = TEXT[language]
        body = page.locator("body").inner_text()
        assert heading in body and balance in body and earned in body
        assert page.locator("#statement-pending li").count() == 1
        assert page.locator("#statement-expiring li").count() == 1
        link = page.locator("#unsubscribe")
        assert link.is_visible() and link.inner_text() == unsubscribe
        # Nothing runs off the side of a phone's screen.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"]
        screenshot(page, f"email-statement-{language}-{size}")
    finally:
        context.close()
