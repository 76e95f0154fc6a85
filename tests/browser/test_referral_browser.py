import os

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from oscar_loyalty import referrals
from oscar_loyalty.models import Referral

from .conftest import PHONE

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_friend_signs_up_through_a_referral_link(live_server, chromium, screenshot):
    call_command("load_demo", stdout=open(os.devnull, "w"))
    referrer = get_user_model().objects.get(email="customer@example.com")
    code = referrals.code_for(referrer).code

    page = chromium.new_context(viewport=PHONE).new_page()
    page.goto(f"{live_server.url}/r/{code}/")
    assert "/r/" not in page.url  # landed on the shop
    page.goto(f"{live_server.url}/accounts/register/")
    page.fill("input[name=email]", "amiga@example.com")
    page.fill("input[name=password1]", "Una-clave-larga-42")
    page.fill("input[name=password2]", "Una-clave-larga-42")
    assert not page.is_checked("input[name=marketing_consent]")
    page.click("form[action*='signup'] button[type=submit]")
    page.wait_for_selector("#messages .alert")
    message = page.inner_text("#messages")
    referral = Referral.objects.get(referred__email="amiga@example.com")
    assert referral.referrer == referrer
    assert referral.welcome_voucher.code in message
    screenshot(page, "referral-signed-up")

    page.goto(f"{live_server.url}/accounts/rewards/")
    assert referral.welcome_voucher.code in page.inner_text("#welcome-coupon")
    screenshot(page, "referral-rewards-page")
    page.context.close()
