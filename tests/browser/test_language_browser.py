"""The Rewards page on a phone and in Spanish, and allauth's pages in the shop's layout.

Desktop (1280x900) and phone (390x844), English and Spanish, in headless
Chromium; each screen is saved under artifacts/screenshots/.
"""

import os
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import translation

from oscar_loyalty import ledger, reasons, redemption
from oscar_loyalty.models import Reward

from .conftest import DESKTOP, PHONE, log_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
SIZES = {"desktop": DESKTOP, "phone": PHONE}
PASSWORD = "a-Long-passw0rd!"

HEADINGS = {
    "en": ["Your balance", "On their way", "Spend your points", "Refer a friend", "Emails",
           "How to earn", "History"],
    "es": ["Tu saldo", "En camino", "Usa tus puntos", "Recomienda a un amigo", "Emails",
           "Cómo ganar puntos", "Historial"],
}  # fmt: skip
HISTORY = {
    "en": ["Reward: Free shipping", "Welcome bonus", "Welcome to our rewards club!", "Order"],
    "es": ["Recompensa: Envío gratis", "Bono de bienvenida", "Welcome to our rewards club!",
           "Pedido"],
}  # fmt: skip
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"
# The element's text on one line: no wider than its box, no taller than a line and a half.
ONE_LINE = """el => {
    const style = getComputedStyle(el);
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.2;
    return el.scrollWidth <= el.clientWidth && el.getBoundingClientRect().height < 1.5 * line;
}"""
FITS = "el => el.scrollWidth <= el.clientWidth"


@pytest.fixture
def sandbox(live_server):
    call_command("load_demo", stdout=open(os.devnull, "w"))
    return live_server.url


@pytest.fixture
def shopper(sandbox):
    """The demo customer, with a welcome bonus and a reward claimed while the shop spoke English."""
    customer = get_user_model().objects.get(email="customer@example.com")
    with translation.override("en"):
        ledger.earn(
            ledger.get_account(customer),
            1234,
            key="earn:welcome:browser",
            reason=reasons.Reason(reasons.WELCOME_BONUS),
        )
        redemption.claim_reward(customer, Reward.objects.get(name="Free shipping").pk)
    return customer


def open_page(chromium, size):
    context = chromium.new_context(viewport=SIZES[size])
    return context, context.new_page()


def prefix(language):
    return "" if language == "en" else f"/{language}"


def words(page, selector):
    return " ".join(page.locator(selector).inner_text().split())


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_rewards_page_reads_well_on_a_phone_in_both_languages(
    chromium, sandbox, shopper, screenshot, language, size
):
    context, page = open_page(chromium, size)
    try:
        log_in(page, sandbox, "customer@example.com", "customer", prefix(language))
        page.goto(f"{sandbox}{prefix(language)}/accounts/rewards/")
        headings = page.locator(".loyalty-rewards > section h2").all_inner_texts()
        # Each section under its heading, in this order (other features add theirs).
        assert [h for h in headings if h in HEADINGS[language]] == HEADINGS[language], headings
        balance = page.locator(".loyalty-balance")
        assert re.match(r"1[,.]?234 (points|puntos)$", balance.inner_text()), balance.inner_text()
        assert balance.evaluate(ONE_LINE), "the balance wraps"
        history = words(page, "#rewards-history tbody")
        for text in HISTORY[language]:
            assert text in history, (text, history)
        if language == "es":
            assert "Reward" not in history and "Welcome bonus" not in history
        assert page.locator("#rewards-history .table-responsive").evaluate(FITS), "clipped"
        assert page.evaluate(NO_OVERFLOW), "the page scrolls sideways"
        screenshot(page, f"language-rewards-{language}-{size}")
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_customer_with_no_points_yet_reads_how_to_earn_first(
    chromium, sandbox, screenshot, language, size
):
    get_user_model().objects.create_user("nuevo", "nuevo@example.com", PASSWORD)
    context, page = open_page(chromium, size)
    try:
        log_in(page, sandbox, "nuevo@example.com", PASSWORD, prefix(language))
        page.goto(f"{sandbox}{prefix(language)}/accounts/rewards/")
        first = page.locator(".loyalty-rewards section").first
        assert first.get_attribute("id") == "rewards-how-to-earn"
        assert page.locator("#rewards-how-to-earn").count() == 1
        assert page.evaluate(NO_OVERFLOW)
        screenshot(page, f"language-rewards-newcomer-{language}-{size}")
    finally:
        context.close()


ACCOUNT_PAGES = {
    "signup": ("/auth/signup/", {"en": "Create your account", "es": "Crea tu cuenta"}),
    "login": ("/auth/login/", {"en": "Log in", "es": "Iniciar sesión"}),
    "password-reset": (
        "/auth/password/reset/",
        {"en": "Reset your password", "es": "Restablece tu contraseña"},
    ),
}
# allauth's own Spanish says "usted"; the shop says "tú".
FORMAL = re.compile(r"\b(inicie|regístrese|ha olvidado su|tiene una cuenta|su contraseña)\b", re.I)


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("name", list(ACCOUNT_PAGES))
def test_allauths_pages_look_like_the_shop(chromium, sandbox, screenshot, name, language, size):
    path, title = ACCOUNT_PAGES[name]
    context, page = open_page(chromium, size)
    try:
        page.goto(f"{sandbox}{prefix(language)}{path}")
        assert page.locator("html").get_attribute("lang") == language
        # The shop's header, navigation and footer around a card holding the form.
        assert page.locator("header.header").count() == 1
        assert page.locator("footer").count() >= 1
        card = page.locator("#account-page.card")
        assert card.locator("h1").inner_text() == title[language]
        if language == "es":
            assert not FORMAL.search(card.inner_text()), card.inner_text()
        inputs = card.locator("input.form-control")
        assert inputs.count() >= 1
        for i in range(inputs.count()):
            assert inputs.nth(i).evaluate("el => el.offsetWidth > 200"), "a field is tiny"
        assert card.locator("button.btn.btn-primary").first.is_visible()
        assert page.evaluate(NO_OVERFLOW)
        screenshot(page, f"language-{name}-{language}-{size}")
    finally:
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_spanish_sign_up_stays_in_spanish(chromium, sandbox, screenshot, size):
    context, page = open_page(chromium, size)
    try:
        page.goto(f"{sandbox}/es/auth/signup/")
        page.fill("input[name=email]", f"ana-{size}@example.com")
        page.fill("input[name=password1]", PASSWORD)
        page.fill("input[name=password2]", PASSWORD)
        page.click("#account-page button[type=submit]")
        page.wait_for_url(lambda url: "/signup/" not in url)
        assert re.search(r"/es/", page.url), page.url
        assert page.locator("html").get_attribute("lang") == "es"
        page.goto(f"{sandbox}/es/accounts/rewards/")
        assert "Historial" in page.locator(".loyalty-rewards").inner_text()
        screenshot(page, f"language-after-signup-es-{size}")
    finally:
        context.close()
