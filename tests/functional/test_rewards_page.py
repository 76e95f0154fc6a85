import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.shortcuts import resolve_url
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from oscar_loyalty import awards, ledger
from oscar_loyalty.models import LedgerEntry

pytestmark = pytest.mark.django_db
URL = "/accounts/rewards/"
DAY0 = datetime(2026, 2, 1, 10, tzinfo=UTC)


def text(page):
    return re.sub(r"\s+", " ", page.text)


@pytest.fixture
def history(customer, place_order):
    """An earned order, a spend, a pending order, points expiring soon."""
    with time_machine.travel(DAY0, tick=False):
        earned = place_order(customer, [("1200.00", 1)])
    with time_machine.travel(DAY0 + timedelta(days=30), tick=False):
        awards.mature_due_awards()
        ledger.spend(ledger.get_account(customer), 20, key="s", reason="r", order=earned)
    with time_machine.travel(DAY0 + timedelta(days=340), tick=False):
        pending = place_order(customer, [("55.00", 1)])
    return earned, pending


def test_anonymous_visitors_go_to_login(django_app):
    page = django_app.get(URL)
    assert page.status_code == 302
    assert page.location.startswith(resolve_url(settings.LOGIN_URL))


def test_the_url_is_stable():
    assert reverse("oscar_loyalty:rewards") == URL


def test_rewards_tab_sits_with_oscars_own_tabs(django_app, customer):
    profile = django_app.get(reverse("customer:profile-view"), user=customer)
    tabs = [a.text.strip() for a in profile.html.select(".nav-pills a")]
    assert tabs[:2] == ["Profile", "Order History"]
    assert "Rewards" in tabs
    rewards = django_app.get(URL, user=customer)
    assert rewards.html.select_one(".nav-pills a.active").text.strip() == "Rewards"


def test_page_shows_balance_pending_expiring_and_history(django_app, customer, history):
    earned, pending = history
    with time_machine.travel(DAY0 + timedelta(days=366), tick=False):
        page = django_app.get(URL, user=customer)
    body = text(page)
    assert "100 points" in page.html.select_one("#rewards-balance").text
    assert "Worth $100.00" in body
    pending_text = re.sub(r"\s+", " ", page.html.select_one("#rewards-pending").text)
    assert f"5 points from order {pending.number}" in pending_text
    assert "available on Feb. 6, 2027" in pending_text
    expiring = re.sub(r"\s+", " ", page.html.select_one("#rewards-expiring").text)
    assert "100 points expire on March 3, 2027" in expiring
    rows = [
        [td.text.strip() for td in tr.select("td")]
        for tr in page.html.select("#rewards-history tbody tr")
    ]
    assert [row[1:] for row in rows] == [
        [f"Used in order {earned.number}", "-20", "100"],
        [f"Order {earned.number}", "+120", "120"],
    ]
    how = text(page.html.select_one("#rewards-how-to-earn"))
    assert "1 point for every $10.00 you spend, yours 30 days after your order." in how
    assert "They expire 12 months after you earn them." in how


@override_settings(
    OSCAR_LOYALTY_POINTS_NAME=("estrella", "estrellas"),
    OSCAR_LOYALTY_POINTS_PER_UNIT=__import__("decimal").Decimal("2"),
    OSCAR_LOYALTY_EXPIRY_POLICY="never",
)
def test_the_shops_own_names_and_rules(django_app, customer):
    ledger.earn(ledger.get_account(customer), 1, key="k", reason="Welcome")
    body = text(django_app.get(URL, user=customer))
    assert "1 estrella" in body
    assert "2 estrellas for every $1.00 you spend" in body
    assert "expire" not in body


def test_a_customer_without_points_sees_how_to_start(django_app, customer):
    body = text(django_app.get(URL, user=customer))
    assert "0 points" in body
    assert "Nothing yet" in body


def test_only_the_owner_data_is_shown(django_app, customer, django_user_model, history):
    other = django_user_model.objects.create_user("eve", "eve@example.com", "x")
    page = django_app.get(URL, user=other)
    assert "0 points" in text(page)
    assert not page.html.select("#rewards-history tbody tr")
    assert not page.html.select("#rewards-pending")
    # a cursor taken from another account's history shows nothing of it
    theirs = LedgerEntry.objects.filter(account__user=customer).first()
    page = django_app.get(f"{URL}?before={theirs.pk + 1}", user=other)
    assert not page.html.select("#rewards-history tbody tr")


def test_history_pages_newest_first(django_app, customer, staff):
    account = ledger.get_account(customer)
    for i in range(45):
        ledger.adjust(account, 1, key=f"k{i}", reason=f"Gift {i}", staff_user=staff)
    first = django_app.get(URL, user=customer)
    reasons = [tr.select("td")[1].text for tr in first.html.select("#rewards-history tbody tr")]
    assert reasons[0] == "Gift 44" and len(reasons) == 20
    second = first.click("Older")
    reasons = [tr.select("td")[1].text for tr in second.html.select("#rewards-history tbody tr")]
    assert reasons[0] == "Gift 24" and len(reasons) == 20
    third = second.click("Older")
    reasons = [tr.select("td")[1].text for tr in third.html.select("#rewards-history tbody tr")]
    assert reasons == [f"Gift {i}" for i in range(4, -1, -1)]
    assert "Older" not in third.html.select_one("#rewards-history").text
    assert third.click("Newest").html.select("#rewards-history tbody tr")[0].text.count("44")


@pytest.mark.parametrize("cursor", ["abc", "-5", "1e9", "9" * 40, "%00", "0"])
def test_garbage_cursors_do_not_break_the_page(django_app, customer, cursor):
    ledger.earn(ledger.get_account(customer), 3, key="k", reason="r")
    page = django_app.get(URL, {"before": cursor}, user=customer)
    assert page.status_code == 200


def test_query_count_does_not_grow_with_history(django_app, customer, django_user_model, staff):
    def queries_for(user, n):
        account = ledger.get_account(user)
        for i in range(n):
            ledger.adjust(account, 1, key=f"{user.pk}:{i}", reason="r", staff_user=staff)
        django_app.get(URL, user=user)  # warm up session and caches
        with CaptureQueriesContext(connection) as ctx:
            django_app.get(URL, user=user)
        return len(ctx)

    small = queries_for(customer, 3)
    big = queries_for(django_user_model.objects.create_user("big", "big@example.com"), 120)
    assert small == big


def test_the_page_in_spanish(django_app, customer, history):
    earned, _pending = history
    with time_machine.travel(DAY0 + timedelta(days=366), tick=False):
        page = django_app.get("/es" + URL, user=customer)
    body = text(page)
    assert "Recompensas" in body and "Tu saldo" in body
    assert "100 puntos" in page.html.select_one("#rewards-balance").text
    assert "1 punto por cada 10,00 US$ que gastes, tuyos 30 días después de tu pedido." in body
    assert f"Usados en el pedido {earned.number}" in body
    assert "disponibles el" in body and "caducan el" in body
