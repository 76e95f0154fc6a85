"""Everything the Django admin lists is in Oscar's dashboard too (Loyalty > Records)."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_loyalty import ledger
from oscar_loyalty.dashboard.records import ADMIN_PAGES, RECORDS
from oscar_loyalty.models import (
    BonusCampaign,
    DataRequest,
    ImportRun,
    LedgerEntry,
    MarketingConsent,
    PendingAward,
    Referral,
    SentMessage,
)

pytestmark = pytest.mark.django_db
Order = get_model("order", "Order")
BASE = "/dashboard/loyalty/records/"


@pytest.fixture
def friend(django_user_model):
    return django_user_model.objects.create_user(
        username="friend", email="friend@example.com", password="x"
    )


@pytest.fixture
def tables(customer, friend, staff):
    """A row in every table the admin lists, belonging to Ana (and one to her friend)."""
    account = ledger.get_account(customer)
    ledger.earn(account, 40, key="earn:test:1", reason="Order 1")
    ledger.adjust(account, -5, key="adjust:staff:x", reason="Broken mug", staff_user=staff)
    ledger.earn(ledger.get_account(friend), 7, key="earn:test:2", reason="Order 2")
    placed = Order.objects.create(
        number="100042",
        user=customer,
        currency="USD",
        total_incl_tax=D("10"),
        total_excl_tax=D("10"),
    )
    PendingAward.objects.create(
        order=placed,
        account=account,
        points=9,
        original_points=9,
        matures_at=timezone.now() + timedelta(days=9),
    )
    Referral.objects.create(referrer=customer, referred=friend)
    MarketingConsent.objects.create(user=customer, marketing=True, source="account")
    SentMessage.objects.create(user=customer, message="statement", key="statement:2026-11")
    DataRequest.objects.create(action="export", account=account, requested_by=staff, by_staff=True)
    BonusCampaign.objects.create(
        name="Double week",
        multiplier=D("2"),
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(days=7),
    )
    ImportRun.objects.create(name="old-program.csv", uploaded_by=staff)
    return account


def page_of(model):
    url_name, slug = ADMIN_PAGES[f"{model._meta.app_label}.{model.__name__}"]
    return reverse(url_name, args=[slug] if slug else [])


def listed(app, staff, url):
    page = app.get(url, user=staff)
    return page, [" ".join(tr.get_text(" ").split()) for tr in page.html.select("tbody tr")]


def test_every_table_in_the_django_admin_has_its_dashboard_page(django_app, staff, tables):
    registered = [m for m in admin.site._registry if m._meta.app_label == "oscar_loyalty"]
    assert {f"oscar_loyalty.{m.__name__}" for m in registered} == set(ADMIN_PAGES)
    for model in registered:
        _page, rows = listed(django_app, staff, page_of(model))
        assert rows and "Nothing here." not in rows[0], model
        assert model.objects.count() <= max(len(rows), 20), model  # its rows are there


def test_only_staff_read_the_records(django_app, customer, staff):
    for record in RECORDS:
        url = f"{BASE}{record.slug}/"
        django_app.reset()
        assert django_app.get(url).status_code == 302, url
        assert django_app.get(url, user=customer, expect_errors=True).status_code == 403, url
        assert django_app.get(url, user=staff).status_code == 200, url
    assert django_app.get(BASE + "nothing/", user=staff, expect_errors=True).status_code == 404
    menu = django_app.get("/dashboard/", user=staff).html.select_one("#bottom_nav_bar")
    assert menu.select_one(f"a[href='{BASE}entries/']") is not None


def test_the_ledger_is_searched_and_filtered_as_in_the_admin(django_app, staff, customer, tables):
    _p, rows = listed(django_app, staff, BASE + "entries/")
    mug = next(r for r in rows if "Broken mug" in r)
    assert len(rows) == 3 and "staff@example.com" in mug
    assert "ana@example.com" in mug and "adjust:staff:x" in mug and "-5" in mug
    _p, rows = listed(django_app, staff, BASE + "entries/?q=friend@")
    assert len(rows) == 1 and "earn:test:2" in rows[0]
    _p, rows = listed(django_app, staff, BASE + f"entries/?q=%23{tables.pk}")
    assert len(rows) == 2  # by member number
    _p, rows = listed(django_app, staff, BASE + "entries/?kind=adjustment")
    assert len(rows) == 1 and "-5" in rows[0]
    _p, rows = listed(django_app, staff, BASE + "entries/?q=mug&kind=earn")
    assert rows == ["Nothing here."]
    for garbage in ("kind=nonsense", "q=%00", "q=" + "x" * 500, "page=abc"):
        page = django_app.get(BASE + f"entries/?{garbage}", user=staff, expect_errors=True)
        assert page.status_code in (200, 404), garbage


@pytest.mark.parametrize(
    "slug,query,expected",
    [
        ("awards", "status=pending", ["100042"]),
        ("awards", "status=void", []),
        ("awards", "q=100042", ["100042"]),
        ("referrals", "status=active", ["friend@example.com"]),
        ("referrals", "q=friend@", ["friend@example.com"]),
        ("consents", "marketing=yes", ["ana@example.com"]),
        ("consents", "marketing=no", []),
        ("consents", "source=account", ["ana@example.com"]),
        ("emails", "message=statement", ["statement:2026-11"]),
        ("emails", "q=2026-11", ["statement:2026-11"]),
        ("data-requests", "action=export&by_staff=yes", ["Export"]),
        ("accounts", "q=friend", ["friend@example.com"]),
        ("lots", "open=0", ["friend@example.com", "ana@example.com"]),
    ],
)
def test_each_table_is_filtered_as_in_the_admin(django_app, staff, tables, slug, query, expected):
    _p, rows = listed(django_app, staff, BASE + f"{slug}/?{query}")
    found = [r for r in rows if r != "Nothing here."]
    assert len(found) == len(expected)
    for row, text in zip(found, expected, strict=True):
        assert text in row


def test_a_referral_is_voided_from_its_list(django_app, staff, tables):
    page = django_app.get(BASE + "referrals/", user=staff)
    void = next(f for f in page.forms.values() if f.action.endswith("/void/"))
    void.submit(user=staff)
    assert Referral.objects.get().status == Referral.Status.VOID
    page = django_app.get(BASE + "referrals/", user=staff)
    assert not [f for f in page.forms.values() if f.action.endswith("/void/")]


def test_a_records_page_reads_in_constant_queries(django_app, staff, customer, tables):
    def queries():
        django_app.get(BASE + "entries/", user=staff)
        with CaptureQueriesContext(connection) as captured:
            django_app.get(BASE + "entries/", user=staff)
        return len(captured)

    few = queries()
    account = ledger.get_account(customer)
    for n in range(10):
        ledger.adjust(account, 1, key=f"adjust:staff:{n}", reason="r", staff_user=staff)
    assert LedgerEntry.objects.count() == 13
    assert queries() == few
