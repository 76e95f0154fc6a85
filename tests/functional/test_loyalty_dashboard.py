"""The merchant's pages in Oscar's dashboard: program figures, customer service, campaigns."""

import csv
import io
import uuid
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone
from oscar.core.loading import get_model

from oscar_loyalty import ledger, reasons, redemption
from oscar_loyalty.models import BonusCampaign, LedgerEntry, PendingAward, Referral, Reward

pytestmark = pytest.mark.django_db
User = get_model("auth", "User")
Order = get_model("order", "Order")
BASE = "/dashboard/loyalty/"
PAGES = [
    "kpis/",
    "kpis/?days=7&format=csv",
    "kpis/at-risk/",
    "kpis/at-risk/?days=30&format=csv",
    "customers/",
    "customers/?q=ana",
    "customers/{customer}/",
    "campaigns/",
    "campaigns/create/",
]
POSTS = ["customers/{customer}/adjust/", "referrals/{referral}/void/"]


@pytest.fixture
def referral(customer, django_user_model):
    friend = django_user_model.objects.create_user(
        username="friend", email="friend@example.com", password="x"
    )
    return Referral.objects.create(referrer=customer, referred=friend)


def urls(customer, referral, paths):
    return [BASE + p.format(customer=customer.pk, referral=referral.pk) for p in paths]


def order(user, days_ago, total="50.00", number=None, **kwargs):
    return Order.objects.create(
        number=number or f"{user.pk if user else 'g'}-{days_ago}",
        user=user,
        currency="USD",
        total_incl_tax=D(total),
        total_excl_tax=D(total),
        date_placed=timezone.now() - timedelta(days=days_ago),
        **kwargs,
    )


def rows(response):
    return list(csv.reader(io.StringIO(response.text)))


# Who may see them -------------------------------------------------------------------


def test_only_staff_see_the_merchant_pages(django_app, customer, staff, referral):
    for url in urls(customer, referral, PAGES):
        django_app.reset()  # forget the staff member signed in for the last URL
        assert django_app.get(url).status_code == 302, url  # to the login page
        assert django_app.get(url, user=customer, expect_errors=True).status_code == 403, url
        assert django_app.get(url, user=staff).status_code == 200, url
    django_app.reset()
    for url in urls(customer, referral, POSTS):
        assert django_app.post(url, user=customer, expect_errors=True).status_code == 403, url
    assert Referral.objects.get().status == Referral.Status.ACTIVE
    assert not LedgerEntry.objects.exists()


def test_the_pages_are_in_the_dashboard_menu(django_app, staff):
    menu = django_app.get("/dashboard/", user=staff).html.select_one("#bottom_nav_bar")
    links = {a.get("href") for a in menu.select("a")}
    assert {BASE + "kpis/", BASE + "customers/", BASE + "campaigns/"} <= links


# Program figures --------------------------------------------------------------------


def test_the_figures_page_shows_the_period_charts_and_a_csv(django_app, staff, customer):
    account = ledger.get_account(customer)
    ledger.earn(account, 200, key="e1", reason="r")
    ledger.spend(account, 50, key="s1", reason="r")
    page = django_app.get(BASE + "kpis/?days=7", user=staff)
    assert page.html.select_one("#kpi-issued").text == "200"
    assert page.html.select_one("#kpi-redeemed").text == "50"
    assert page.html.select_one("#kpi-redemption").text.strip() == "25%"
    assert page.html.select_one("#kpi-liability").text == "150.00"
    svgs = page.html.select("svg.loyalty-chart")
    assert len(svgs) == 2 and svgs[1].select("rect")  # drawn on the server, no script
    download = django_app.get(page.html.select_one("#kpi-csv")["href"], user=staff)
    assert download["Content-Type"] == "text/csv"
    table = dict(r for r in rows(download) if len(r) == 2)
    assert (table["points_issued"], table["points_redeemed"]) == ("200", "50")
    assert table["period_end"] == str(timezone.localdate())


@pytest.mark.parametrize(
    "query",
    [
        "start=2026-05-10&end=2026-05-01",
        "start=2020-01-01&end=2026-01-01",
        "start=nope&end=1",
        "x=1",
    ],
)
def test_a_bad_period_says_why_and_shows_no_figures(django_app, staff, query):
    page = django_app.get(BASE + f"kpis/?{query}", user=staff)
    assert page.status_code == 200
    assert page.html.select_one("#period-form .alert-danger").text.strip()
    assert page.html.select_one("#kpi-cards") is None
    assert django_app.get(BASE + f"kpis/?{query}&format=csv", user=staff).content_type == (
        "text/html"
    )


def test_customers_at_risk_list_and_csv(django_app, staff, customer, django_user_model):
    loyal = django_user_model.objects.create_user(
        username="b", email="b@example.com", first_name="=HYPERLINK(1)"
    )
    late = django_user_model.objects.create_user(username="c", email="c@example.com")
    order(customer, 90)
    order(loyal, 90)
    order(loyal, 70)
    order(late, 10)
    ledger.get_account(customer)
    page = django_app.get(BASE + "kpis/at-risk/?days=60", user=staff)
    listed = page.html.select_one("#at-risk-list").text
    assert "ana@example.com" in listed and "b@example.com" not in listed
    order(None, 100, guest_email="g@example.com")
    django_user_model.objects.filter(pk=loyal.pk).update(email="=cmd()")
    Order.objects.filter(user=loyal).last().delete()
    download = django_app.get(BASE + "kpis/at-risk/?days=60&format=csv", user=staff)
    table = rows(download)
    assert table[0] == ["email", "first_name", "last_name", "order_date", "member", "balance"]
    assert [r[0] for r in table[1:]] == ["'=cmd()", "ana@example.com"]  # latest first
    assert table[1][1] == "'=HYPERLINK(1)"  # a spreadsheet must not run it
    assert table[1][4:] == ["no", ""] and table[2][4:] == ["yes", "0"]
    bad = django_app.get(BASE + "kpis/at-risk/?days=0", user=staff)
    assert bad.html.select_one(".alert-danger") and not bad.html.select("#at-risk-list td a")


def test_customers_at_risk_page_by_page_in_constant_queries(
    django_app, staff, django_user_model, settings
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from oscar_loyalty import kpis

    def customers(n, start):
        for i in range(start, start + n):
            user = django_user_model.objects.create_user(username=f"r{i}", email=f"r{i}@x.com")
            order(user, 61 + i, number=f"R{i}")

    def page(url):
        django_app.get(url, user=staff)
        with CaptureQueriesContext(connection) as queries:
            response = django_app.get(url, user=staff)
        emails = [a.text for a in response.html.select("#at-risk-list td a")]
        return response, emails, len(queries)

    url = BASE + "kpis/at-risk/?days=60"
    customers(3, 0)
    _r, first, few = page(url)
    assert first == ["r0@x.com", "r1@x.com", "r2@x.com"]
    customers(22, 3)  # 25 at risk, 20 a page
    response, first, many = page(url)
    assert many == few
    assert first == [f"r{i}@x.com" for i in range(20)]
    assert response.html.select_one("#at-risk-pages").text.split() == ["Older"]
    older = response.html.select_one("#at-risk-pages a[rel=next]")["href"]
    response, second, deeper = page(BASE + "kpis/at-risk/" + older)
    assert second == [f"r{i}@x.com" for i in range(20, 25)] and deeper == few
    assert response.html.select_one("#at-risk-pages").text.split() == ["Newest"]
    for garbage in ("abc", "1.x", "-5.3", "99999999999999999999.1", "1." + "9" * 30, "."):
        _r, shown, _n = page(f"{url}&after={garbage}")
        assert shown == first, garbage  # the first page
    # The CSV reads chunk after chunk from where the last ended: all, in order, once.
    assert [r.email for r in kpis.iter_at_risk(60, chunk=7)] == [f"r{i}@x.com" for i in range(25)]
    with CaptureQueriesContext(connection) as queries:
        assert len(list(kpis.iter_at_risk(60, chunk=7))) == 25
    assert len(queries) == 4  # 7 + 7 + 7 + 4
    download = django_app.get(url + "&format=csv", user=staff)
    assert [r[0] for r in rows(download)[1:]] == [f"r{i}@x.com" for i in range(25)]


# Customer service -------------------------------------------------------------------


@pytest.mark.parametrize("query", ["ANA@example", "Ana Pérez", "pérez", "#{n}", "{n}"])
def test_find_a_customer_by_email_name_or_member_number(django_app, staff, customer, query):
    User.objects.filter(pk=customer.pk).update(first_name="Ana", last_name="Pérez")
    account = ledger.get_account(customer)
    User.objects.create_user(username="other", email="other@example.com")
    page = django_app.get(BASE + "customers/", {"q": query.format(n=account.pk)}, user=staff)
    found = page.html.select("#customer-list tbody tr")
    assert len(found) == 1 and "ana@example.com" in found[0].text
    assert f"#{account.pk}" in found[0].text


def test_the_customer_page_shows_balance_pending_lots_and_ledger_with_reasons(
    django_app, staff, customer
):
    account = ledger.get_account(customer)
    placed = order(customer, 3, number="100042")
    PendingAward.objects.create(
        order=placed,
        account=account,
        points=9,
        original_points=9,
        matures_at=timezone.now() + timedelta(days=27),
    )
    ledger.earn(account, 30, key="earn:welcome:1", reason=reasons.Reason(reasons.WELCOME_BONUS))
    ledger.adjust(account, -5, key="k", reason="Duplicate order", staff_user=staff)
    page = django_app.get(BASE + f"customers/{customer.pk}/", user=staff)
    assert page.html.select_one("#customer-balance").text == "25"
    assert "100042" in page.html.select_one("#customer-pending").text
    assert "25" in page.html.select_one("#customer-lots").text
    ledger_rows = [r.text for r in page.html.select("#customer-ledger tbody tr")]
    assert "Duplicate order" in ledger_rows[0] and "staff@example.com" in ledger_rows[0]
    assert "Welcome bonus" in ledger_rows[1]


def test_a_customers_history_as_csv_in_the_staff_members_language(django_app, staff, customer):
    account = ledger.get_account(customer)
    ledger.earn(account, 100, key="earn:welcome:1", reason=reasons.Reason(reasons.WELCOME_BONUS))
    shipping = Reward.objects.create(
        name="Free shipping",
        name_translations={"es": "Envío gratis"},
        kind=Reward.Kind.FREE_SHIPPING,
        cost=30,
    )
    redemption.claim_reward(customer, shipping.pk)
    ledger.adjust(account, -5, key="k", reason="=HYPERLINK(1)", staff_user=staff)
    page = django_app.get(f"/es{BASE}customers/{customer.pk}/", user=staff)
    assert page.html.select_one("#history-csv")
    response = django_app.get(f"/es{BASE}customers/{customer.pk}/?format=csv", user=staff)
    assert response.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.app_iter).decode())))
    assert rows[0][4] == "Motivo que ve el cliente"
    assert [(row[2], row[4]) for row in rows[1:]] == [
        ("-5", "'=HYPERLINK(1)"),  # a spreadsheet does not run it
        ("-30", "Recompensa: Envío gratis"),
        ("100", "Bono de bienvenida"),
    ]


def test_the_csv_of_a_customer_without_points_is_its_header(django_app, staff, customer):
    response = django_app.get(f"{BASE}customers/{customer.pk}/?format=csv", user=staff)
    assert b"".join(response.app_iter).decode().splitlines() == [
        "Date,Kind,Points,Balance after,Reason the customer sees,Order,Staff user"
    ]


def test_customers_csv_is_staff_only(django_app, customer):
    response = django_app.get(
        f"{BASE}customers/{customer.pk}/?format=csv", user=customer, expect_errors=True
    )
    assert response.status_code in (302, 403)
    assert response.content_type != "text/csv"


def adjust_form(app, staff, customer):
    return app.get(BASE + f"customers/{customer.pk}/", user=staff).forms["adjust-form"]


def test_staff_adjust_points_with_a_reason_the_customer_reads(django_app, staff, customer):
    form = adjust_form(django_app, staff, customer)
    form["points"] = "40"
    form["reason"] = "Sorry for the late parcel"
    page = form.submit(user=staff).follow(user=staff)
    assert "+40 points" in page.text
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.points, entry.staff_user, entry.reason) == (
        LedgerEntry.Kind.ADJUSTMENT,
        40,
        staff,
        "Sorry for the late parcel",
    )
    assert entry.idempotency_key == f"adjust:staff:{form['token'].value}"
    form.submit(user=staff)  # the same form twice: adjusted once
    assert LedgerEntry.objects.count() == 1
    rewards = django_app.get("/accounts/rewards/", user=customer)
    assert "Sorry for the late parcel" in rewards.text


@pytest.mark.parametrize(
    "points,reason,error",
    [
        ("0", "r", "other than zero"),
        ("-11", "Too much", "Not enough points"),
        ("1000000001", "r", "less than or equal to 1000000000"),
        ("-1000000001", "r", "greater than or equal to -1000000000"),
        ("99999999999999999999", "r", "less than or equal to"),
        ("1.5", "r", "whole number"),
        ("5", "", "required"),
        ("5", "   ", "required"),
        ("5", "bad\x00reason", "Null characters are not allowed"),
        ("5", "x" * 256, "at most 255 characters"),
    ],
)
def test_a_bad_adjustment_says_why_and_changes_nothing(
    django_app, staff, customer, points, reason, error
):
    account = ledger.get_account(customer)
    ledger.earn(account, 10, key="e", reason="r")
    form = adjust_form(django_app, staff, customer)
    form["points"] = points
    form["reason"] = reason
    page = form.submit(user=staff, expect_errors=True)
    assert page.status_code == 400
    assert error in page.html.select_one("#adjust-form").text
    account.refresh_from_db()
    assert (account.balance, LedgerEntry.objects.count()) == (10, 1)


def test_taking_points_from_a_customer_without_an_account_creates_nothing(
    django_app, staff, customer
):
    form = adjust_form(django_app, staff, customer)
    form["points"] = "-3"
    form["reason"] = "r"
    assert form.submit(user=staff, expect_errors=True).status_code == 400
    assert not hasattr(User.objects.get(pk=customer.pk), "loyalty_account")


def test_a_forged_token_is_refused(django_app, staff, customer):
    form = adjust_form(django_app, staff, customer)
    form["points"] = "3"
    form["reason"] = "r"
    form["token"].force_value("not-a-uuid")
    assert form.submit(user=staff, expect_errors=True).status_code == 400
    assert not LedgerEntry.objects.exists()
    assert uuid.UUID(adjust_form(django_app, staff, customer)["token"].value)


def test_staff_void_a_referral(django_app, staff, customer, referral):
    page = django_app.get(BASE + f"customers/{customer.pk}/", user=staff)
    void = next(f for f in page.forms.values() if f.action.endswith("/void/"))
    page = void.submit(user=staff).follow(user=staff)
    assert "Referral voided." in page.text
    referral.refresh_from_db()
    assert referral.status == Referral.Status.VOID and "staff" in referral.reason
    assert not page.html.select("#customer-referrals form")


# Bonus campaigns --------------------------------------------------------------------


def test_staff_create_edit_and_delete_a_bonus_campaign(django_app, staff):
    form = django_app.get(BASE + "campaigns/create/", user=staff).forms["campaign-form"]
    form["name"] = "Double points week"
    form["multiplier"] = "2"
    form["starts_at"] = "2026-03-01 00:00"
    form["ends_at"] = "2026-02-01 00:00"
    page = form.submit(user=staff)
    assert "The end must be after the start." in page.text
    assert not BonusCampaign.objects.exists()
    form = page.forms["campaign-form"]
    form["ends_at"] = "2026-03-08 00:00"
    page = form.submit(user=staff).follow(user=staff)
    campaign = BonusCampaign.objects.get()
    assert campaign.multiplier == D("2") and "Double points week" in page.text
    form = django_app.get(BASE + f"campaigns/{campaign.pk}/", user=staff).forms["campaign-form"]
    form["multiplier"] = "-1"
    assert form.submit(user=staff).status_code == 200
    campaign.refresh_from_db()
    assert campaign.multiplier == D("2")
    page = django_app.get(BASE + f"campaigns/{campaign.pk}/delete/", user=staff)
    page.forms["campaign-delete"].submit(user=staff).follow(user=staff)
    assert not BonusCampaign.objects.exists()
