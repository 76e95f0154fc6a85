"""The in-store page: points for a till purchase and a reward at the counter, once a receipt."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from oscar_loyalty import ledger, till
from oscar_loyalty.models import LedgerEntry, Reward

pytestmark = pytest.mark.django_db
URL = "/dashboard/loyalty/in-store/"


@pytest.fixture
def other(django_user_model):
    return django_user_model.objects.create_user(
        username="other", email="other@example.com", password="x"
    )


@pytest.fixture
def coffee():
    return Reward.objects.create(name="Free coffee", kind="free_product", cost=50, stock=2)


def purchase(app, staff, customer="ana@example.com", receipt="MAD1-0001", amount="250.00"):
    form = app.get(URL, user=staff).forms["purchase-form"]
    form["purchase-customer"] = customer
    form["purchase-receipt"] = receipt
    form["purchase-amount"] = amount
    return form.submit(user=staff, expect_errors=True)


def reward(app, staff, reward_id, customer="ana@example.com", receipt="MAD1-0001"):
    form = app.get(URL, user=staff).forms["reward-counter-form"]
    form["reward-customer"] = customer
    form["reward-receipt"] = receipt
    form["reward-reward"].force_value(str(reward_id))
    return form.submit(user=staff, expect_errors=True)


def messages(page):
    return [
        " ".join(m.text.replace("\u00d7", "").split()) for m in page.html.select("#messages .alert")
    ]


def state():
    entries = LedgerEntry.objects.order_by("pk").values_list("account_id", "points")
    return list(entries), list(Reward.objects.filter(name="Free coffee").values_list("claimed"))


def test_only_staff_use_the_in_store_page(django_app, customer, staff):
    assert django_app.get(URL).status_code == 302
    assert django_app.get(URL, user=customer, expect_errors=True).status_code == 403
    assert (
        django_app.post(URL, {"action": "purchase"}, user=customer, expect_errors=True).status_code
        == 403
    )
    menu = django_app.get("/dashboard/", user=staff).html.select_one("#bottom_nav_bar")
    assert menu.select_one(f"a[href='{URL}']") is not None
    assert not LedgerEntry.objects.exists()


def test_staff_award_a_till_purchase_once_per_receipt(django_app, staff, customer):
    page = purchase(django_app, staff).follow(user=staff)
    assert messages(page) == ["Receipt MAD1-0001: +25 points for ana@example.com, balance 25."]
    entry = LedgerEntry.objects.get()
    assert (entry.kind, entry.points, entry.staff_user) == ("earn", 25, staff)
    assert entry.idempotency_key == "earn:till:MAD1-0001"
    assert entry.customer_reason() == "In-store purchase MAD1-0001"
    # The same receipt again (a double click, a second staff member): nothing changes.
    page = purchase(django_app, staff).follow(user=staff)
    assert messages(page) == ["Receipt MAD1-0001 was already recorded: nothing changed."]
    assert LedgerEntry.objects.count() == 1
    assert ledger.get_account(customer).balance == 25


def test_the_till_api_and_the_page_share_the_receipt(django_app, staff, customer):
    till.award_purchase(customer, D("250.00"), key="MAD1-0001", staff_user=staff)
    page = purchase(django_app, staff).follow(user=staff)
    assert messages(page) == ["Receipt MAD1-0001 was already recorded: nothing changed."]
    assert LedgerEntry.objects.count() == 1


@pytest.mark.parametrize("how", ["email", "number", "hash", "card"])
def test_the_customer_is_found_by_email_member_number_or_card_code(
    django_app, staff, customer, how
):
    account = ledger.get_account(customer)
    typed = {
        "email": " ANA@example.COM ",
        "number": str(account.pk),
        "hash": f"#{account.pk}",
        "card": till.card_code(customer)[0],
    }[how]
    purchase(django_app, staff, customer=typed).follow(user=staff)
    assert LedgerEntry.objects.get().account == account


def test_a_receipt_recorded_for_one_customer_is_refused_for_another(
    django_app, staff, customer, other
):
    purchase(django_app, staff)
    before = state()
    # Another store printed the same number, or a typo: never a second customer's points.
    page = purchase(django_app, staff, customer="other@example.com")
    assert page.status_code == 400
    assert "recorded for another customer or amount" in page.html.select_one("#purchase-form").text
    page = purchase(django_app, staff, amount="900.00")
    assert "recorded for another customer or amount" in page.html.select_one("#purchase-form").text
    assert state() == before


@pytest.mark.parametrize(
    "values,error",
    [
        ({"amount": "-10"}, "greater than or equal to 0.01"),
        ({"amount": "0"}, "greater than or equal to 0.01"),
        ({"amount": "0.001"}, "no more than 2 decimal places"),
        ({"amount": "1000000000.01"}, "less than or equal to 1000000000"),
        ({"amount": "99999999999999999999"}, "less than or equal to"),
        ({"amount": "NaN"}, "Enter a number"),
        ({"amount": "abc"}, "Enter a number"),
        ({"amount": "4.00"}, "too small to earn points"),
        ({"customer": "garbage"}, "No customer has this"),
        ({"customer": "#99999999"}, "No customer has this"),
        ({"customer": "12345678901234567890123"}, "No customer has this"),
        ({"customer": "nobody@example.com"}, "No customer has this"),
        ({"customer": "7:forged-signature"}, "No customer has this"),
        ({"customer": "ana@example.com\x00"}, "Null characters are not allowed"),
        ({"receipt": "has spaces 1"}, "without spaces"),
        ({"receipt": "x" * 65}, "at most 64 characters"),
        ({"receipt": "-starts-with-dash"}, "without spaces"),
        ({"receipt": ""}, "required"),
    ],
)
def test_bad_input_at_the_counter_says_why_and_changes_nothing(
    django_app, staff, customer, values, error
):
    page = purchase(django_app, staff, **values)
    assert page.status_code == 400
    assert error in page.html.select_one("#purchase-form").text
    assert not LedgerEntry.objects.exists()


def test_an_expired_card_code_is_refused(django_app, staff, customer):
    code, _expires = till.card_code(customer, now=timezone.now() - timedelta(hours=2))
    page = purchase(django_app, staff, customer=code)
    assert "No customer has this" in page.html.select_one("#purchase-form").text
    assert not LedgerEntry.objects.exists()


def test_an_email_shared_by_two_customers_asks_for_the_member_number(
    django_app, staff, customer, django_user_model
):
    django_user_model.objects.create_user(username="twin", email="Ana@Example.com")
    page = purchase(django_app, staff)
    assert "use their member number" in page.html.select_one("#purchase-form").text
    assert not LedgerEntry.objects.exists()


def test_staff_redeem_a_reward_at_the_counter_once_per_receipt(django_app, staff, customer, coffee):
    ledger.earn(ledger.get_account(customer), 80, key="seed", reason="Order 1")
    page = reward(django_app, staff, coffee.pk).follow(user=staff)
    assert messages(page) == ["Receipt MAD1-0001: -50 points for ana@example.com, balance 30."]
    coffee.refresh_from_db()
    assert coffee.claimed == 1
    entry = LedgerEntry.objects.latest("pk")
    assert (entry.kind, entry.idempotency_key, entry.staff_user) == (
        "spend",
        "spend:till:MAD1-0001",
        staff,
    )
    assert entry.customer_reason() == "Reward: Free coffee"
    page = reward(django_app, staff, coffee.pk).follow(user=staff)
    assert messages(page) == ["Receipt MAD1-0001 was already recorded: nothing changed."]
    coffee.refresh_from_db()
    assert (coffee.claimed, ledger.get_account(customer).balance) == (1, 30)
    # A purchase on the same receipt is its own posting (paid, then rewarded).
    purchase(django_app, staff).follow(user=staff)
    assert ledger.get_account(customer).balance == 55


def test_a_reward_the_customer_cannot_have_changes_nothing(
    django_app, staff, customer, other, coffee
):
    ledger.earn(ledger.get_account(customer), 80, key="seed", reason="Order 1")
    page = reward(django_app, staff, coffee.pk, customer="other@example.com")
    assert "Not enough points" in page.html.select_one("#reward-counter-form").text
    reward(django_app, staff, coffee.pk)
    before = state()
    page = reward(django_app, staff, coffee.pk, customer="other@example.com")
    assert "recorded for another customer" in page.html.select_one("#reward-counter-form").text
    shipping = Reward.objects.create(name="Shipping", kind="free_shipping", cost=5)
    gone = Reward.objects.create(name="Gone", kind="discount", value=D("5"), cost=5, stock=0)
    over = Reward.objects.create(
        name="Over", kind="discount", value=D("5"), cost=5, ends_at=timezone.now()
    )
    for unavailable in (shipping, gone, over):
        page = reward(django_app, staff, unavailable.pk, receipt="MAD1-0002")
        assert "Select a valid choice" in page.html.select_one("#reward-counter-form").text
    page = reward(django_app, staff, 999999, receipt="MAD1-0002")
    assert page.status_code == 400
    assert state() == before
    assert ledger.get_account(customer).balance == 30
