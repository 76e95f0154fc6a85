"""The program while shopping, in Chromium: desktop and phone, English and Spanish.

A friend follows Carmen's link, sees the banner, the product's points with
this week's campaign, the gift on the sign-up page, and the coupon in the
basket. Carmen sees what a basket earns, how far points go, "Points (25)" in
her basket, the preview's figure, and the Rewards page's claim buttons and
codes.
"""

import os
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from oscar.core.loading import get_model

from oscar_loyalty import referrals

from .conftest import DESKTOP, PHONE, log_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
Product = get_model("catalogue", "Product")

TEXT = {
    "en": {
        "banner": "Carmen invited you: sign up and get 10% off your first order",
        "campaign": "Double points this week · ×2 points",
        "members": "Members earn 2 points with this product",
        "join": "Join free to earn points",
        "signup_gift": "Carmen invited you: your gift is 10% off your first order",
        "in_basket": "is in your basket",
        "earn_basket": "This order earns you",
        "room": "On this basket, points can pay up to $27.00: 27 points.",
        "points_label": "Points (25)",
        "missing": "10 points more needed",
        "welcome": "Your welcome gift",
        "confirm": "Spend 25 points on “$5 off your order”?",
        "use": "Use in basket",
        "applied": "applied to your basket",
        "product_earn": "Earn 5 points with this product",
    },
    "es": {
        "banner": "Carmen te ha invitado: regístrate y consigue 10% de descuento",
        "campaign": "Double points this week · ×2 puntos",
        "members": "Los miembros ganan 2 puntos con este producto",
        "join": "Únete gratis para ganar puntos",
        "signup_gift": "Carmen te ha invitado: tu regalo es 10% de descuento",
        "in_basket": "está en tu carrito",
        "earn_basket": "Con este pedido ganas",
        "room": "En este carrito, los puntos pueden pagar hasta",
        "points_label": "Puntos (25)",
        "missing": "Te faltan 10 puntos",
        "welcome": "Tu regalo de bienvenida",
        "confirm": "¿Gastar 25 puntos en «5 $ de descuento en tu pedido»?",
        "use": "Usar en el carrito",
        "applied": "",
        "product_earn": "Gana 5 puntos con este producto",
    },
}
SIZES = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture
def sandbox(live_server):
    call_command("load_demo", stdout=open(os.devnull, "w"))
    return live_server.url


def flat(page, selector):
    return " ".join(page.inner_text(selector).split())


def fits(page):
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the window"


def add_to_basket(page, base, prefix, title):
    page.goto(base + prefix + Product.objects.get(title=title).get_absolute_url())
    page.click("#add_to_basket_form button[type=submit]")
    page.wait_for_selector("#messages .alert")


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_friend_is_welcomed_and_sees_points_while_shopping(
    chromium, sandbox, screenshot, language, size
):
    words, prefix = TEXT[language], ("" if language == "en" else f"/{language}")
    carmen = get_user_model().objects.get(email="customer@example.com")
    code = referrals.code_for(carmen).code
    context = chromium.new_context(viewport=SIZES[size])
    page = context.new_page()
    name = f"{language}-{size}"
    try:
        page.goto(f"{sandbox}{prefix}/r/{code}/")
        banner = flat(page, "#messages .alert-referral-welcome")
        assert words["banner"] in banner and "customer@example.com" not in banner
        fits(page)
        screenshot(page, f"shopping-referral-banner-{name}")

        coffee = Product.objects.get(title="Ground coffee 500 g").get_absolute_url()
        page.goto(sandbox + prefix + coffee)
        earn = flat(page, "#product-earn")
        assert words["campaign"] in earn and words["members"] in earn, earn
        assert words["join"] in earn
        fits(page)
        screenshot(page, f"shopping-product-visitor-{name}")
        page.click("#add_to_basket_form button[type=submit]")
        page.wait_for_selector("#messages .alert")

        page.goto(f"{sandbox}{prefix}/accounts/register/")
        assert words["signup_gift"] in flat(page, "#signup-gift")
        fits(page)
        screenshot(page, f"shopping-signup-gift-{name}")
        page.fill("input[name=email]", f"amiga-{name}@example.com")
        page.fill("input[name=password1]", "Una-clave-larga-42")
        page.fill("input[name=password2]", "Una-clave-larga-42")
        page.click("form[action*='signup'] button[type=submit]")
        page.wait_for_selector("#messages .alert")
        assert words["in_basket"] in flat(page, "#messages")

        page.goto(f"{sandbox}{prefix}/basket/")
        totals = flat(page, "#basket_totals")
        assert "WELCOME-" in totals, totals  # the coupon, with its discount
        assert words["earn_basket"] in flat(page, "#basket-earn")
        fits(page)
        screenshot(page, f"shopping-friend-basket-{name}")

        page.goto(f"{sandbox}{prefix}/accounts/rewards/")
        welcome = flat(page, "#rewards-welcome")
        assert words["welcome"] in welcome and "WELCOME-" in welcome
        assert "WELCOME-" not in flat(page, "#rewards-referral")
        fits(page)
        screenshot(page, f"shopping-friend-rewards-{name}")
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_customer_sees_what_she_earns_and_how_far_points_go(
    chromium, sandbox, screenshot, language, size
):
    words, prefix = TEXT[language], ("" if language == "en" else f"/{language}")
    context = chromium.new_context(viewport=SIZES[size])
    page = context.new_page()
    name = f"{language}-{size}"
    try:
        log_in(page, sandbox, "customer@example.com", "customer", prefix)
        skillet = Product.objects.get(title="Cast iron skillet").get_absolute_url()
        page.goto(sandbox + prefix + skillet)
        assert words["product_earn"] in flat(page, "#product-earn")
        fits(page)
        screenshot(page, f"shopping-product-member-{name}")
        page.click("#add_to_basket_form button[type=submit]")
        page.wait_for_selector("#messages .alert")

        page.goto(f"{sandbox}{prefix}/basket/")
        assert words["room"] in flat(page, "#use-points")
        page.fill("#use-points-form input[name=points]", "25")
        page.click("#use-points-form button[type=submit]")
        page.wait_for_selector("#messages .alert")
        totals = flat(page, "#basket_totals")
        assert words["points_label"] in totals and "PTS-" not in totals, totals
        assert words["earn_basket"] in flat(page, "#basket-earn")
        fits(page)
        screenshot(page, f"shopping-member-basket-{name}")

        page.click("a.btn-primary[href$='/checkout/']")
        page.click("button.ship-address")
        page.wait_for_url(re.compile(r".*/checkout/payment-details/.*"))
        page.click("#view_preview")
        page.wait_for_url(re.compile(r".*/checkout/preview/.*"))
        assert words["earn_basket"] in flat(page, "#basket-earn")
        assert words["points_label"] in flat(page, "#basket_totals")
        fits(page)
        screenshot(page, f"shopping-preview-{name}")

        # Carmen has 5 points left: the $5 reward needs 20 more, and so on.
        page.goto(f"{sandbox}{prefix}/basket/")
        page.click("#basket_totals form[action*='/vouchers/'] [type=submit]")
        page.wait_for_selector("#messages .alert")
        page.goto(f"{sandbox}{prefix}/accounts/rewards/")
        assert words["missing"] in flat(page, "#rewards-catalogue")  # 40 - 30 points
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
        page.locator("form.claim-reward button:not([disabled])").first.click()
        page.wait_for_selector("#reward-codes")
        assert dialogs and dialogs[0].startswith(words["confirm"]), dialogs
        row = page.locator("#reward-codes li").first
        assert row.locator(".copy-code").is_visible()
        assert words["use"] in row.inner_text()
        fits(page)
        screenshot(page, f"shopping-rewards-codes-{name}")
        row.locator("form.use-code button").click()
        page.wait_for_url(re.compile(r".*/basket/$"))
        assert words["applied"] in flat(page, "#messages")
        assert "Reward" in flat(page, "#basket_totals") or "Recompensa" in flat(
            page, "#basket_totals"
        )
        screenshot(page, f"shopping-reward-in-basket-{name}")
    finally:
        context.close()
