from decimal import Decimal as D

import pytest
from django.test import override_settings
from django.urls import reverse
from oscar.core.loading import get_model
from oscar.test.factories import create_product, create_stockrecord

from oscar_loyalty import ledger, redemption
from oscar_loyalty.models import LedgerEntry, Redemption, Reward
from tests.helpers import messages, text

pytestmark = pytest.mark.django_db
Basket = get_model("basket", "Basket")


@pytest.fixture
def shopper(customer, django_app):
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="Order 1")
    product = create_product(title="Lamp")
    create_stockrecord(product, price=D("120.00"), num_in_stock=100)
    page = django_app.get(product.get_absolute_url(), user=customer)
    page.forms["add_to_basket_form"].submit(user=customer)
    return customer


def use(app, user, points):
    basket = app.get("/basket/", user=user)
    form = basket.forms["use-points-form"]
    form["points"] = points
    return form.submit(user=user).follow(user=user)


def test_basket_shows_points_and_their_worth(django_app, shopper):
    page = django_app.get("/basket/", user=shopper)
    box = text(page.html.select_one("#use-points"))
    assert "You have 100 points, worth $100.00." in box
    assert "From 10 to 60 on this basket." in box


def test_using_points_discounts_the_basket_and_shows_in_history(django_app, shopper):
    page = use(django_app, shopper, "40")
    assert messages(page) == ["You used 40 points: $40.00 off your basket."]
    assert "$80.00" in text(page.html.select_one("#basket_totals"))
    assert "40 points used: $40.00 off this basket." in text(page.html.select_one("#use-points"))
    history = django_app.get("/accounts/rewards/", user=shopper)
    assert "Points used at checkout" in text(history.html.select_one("#rewards-history"))


@pytest.mark.parametrize(
    "points,message",
    [
        ("abc", "Enter a whole number of points."),
        ("1.5", "Enter a whole number of points."),
        ("-5", "Enter a whole number of points."),
        ("9" * 30, "Enter a whole number of points."),
        ("5", "Use at least 10 points at a time."),
        ("61", "You can use at most 60 points on this basket."),
    ],
)
def test_bad_amounts_get_a_message_and_change_nothing(django_app, shopper, points, message):
    basket = django_app.get("/basket/", user=shopper)
    form = basket.forms["use-points-form"]
    form["points"].force_value(points)
    page = form.submit(user=shopper).follow(user=shopper)
    assert messages(page) == [message]
    assert ledger.get_account(shopper).balance == 100
    assert not Redemption.objects.exists()


def test_guests_cannot_use_points(django_app):
    page = django_app.post("/basket/points/", {"points": "10"}, expect_errors=True)
    assert page.status_code in (302, 403)
    assert not LedgerEntry.objects.exists()


def test_removing_another_customers_voucher_id_does_nothing(django_app, shopper, django_user_model):
    use(django_app, shopper, "40")
    voucher = Redemption.objects.get().voucher
    eve = django_user_model.objects.create_user("eve", "eve@example.com", "x")
    django_app.get("/basket/", user=eve)
    django_app.post(
        f"/basket/vouchers/{voucher.pk}/remove/",
        {"csrfmiddlewaretoken": django_app.cookies["csrftoken"]},
        user=eve,
    )
    assert Redemption.objects.get().status == Redemption.Status.ACTIVE
    assert ledger.get_account(shopper).balance == 60


def test_claiming_a_reward_on_the_rewards_page(django_app, shopper):
    Reward.objects.create(name="Free shipping", kind="free_shipping", cost=30)
    Reward.objects.create(name="Big prize", kind="discount", cost=500, value=D("50"))
    page = django_app.get("/accounts/rewards/", user=shopper)
    catalogue = page.html.select_one("#rewards-catalogue")
    buttons = {text(li.find("strong")): li.find("button") for li in catalogue.select("li")}
    assert buttons["Big prize"].has_attr("disabled")
    assert not buttons["Free shipping"].has_attr("disabled")
    forms = [f for f in page.forms.values() if "/claim/" in (f.action or "")]
    page = forms[0].submit(user=shopper).follow(user=shopper)
    code = Redemption.objects.get().voucher.code
    assert messages(page) == [f"Here is your code for Free shipping: {code}"]
    assert code in text(page.html.select_one("#reward-codes"))
    assert ledger.get_account(shopper).balance == 70
    # claiming the dear one anyway is refused
    page = forms[1].submit(user=shopper).follow(user=shopper)
    assert messages(page) == ["You have 70 points: not enough for this."]


def test_staff_manage_rewards(django_app, staff):
    form = django_app.get("/dashboard/loyalty/rewards/create/", user=staff).forms["reward-form"]
    form["name"] = "Tote bag"
    form["kind"] = "discount"
    form["cost"] = "50"
    page = form.submit(user=staff)
    assert "value" in page.context["form"].errors
    form = page.forms["reward-form"]
    form["value"] = "5.00"
    form["stock"] = "20"
    page = form.submit(user=staff).follow(user=staff)
    assert "Tote bag" in text(page.html.select_one("#reward-list"))
    assert Reward.objects.get().stock == 20


def basket_in(app, user, currency, price):
    product = create_product(title=f"Lamp in {currency}")
    create_stockrecord(product, price=D(price), num_in_stock=100, currency=currency)
    page = app.get(product.get_absolute_url(), user=user)
    page.forms["add_to_basket_form"].submit(user=user)


@pytest.fixture
def euro_shopper(customer, django_app):
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="Order 1")
    basket_in(django_app, customer, "EUR", "120.00")
    return customer


def test_points_are_not_spent_at_face_value_in_another_currency(django_app, euro_shopper):
    page = django_app.get("/basket/", user=euro_shopper)
    box = text(page.html.select_one("#use-points"))
    assert "Points cannot be used on a basket in EUR." in box
    assert "use-points-form" not in page.forms
    # a form posted anyway is refused, and nothing is spent
    token = page.forms["voucher_form"]["csrfmiddlewaretoken"].value
    refused = django_app.post(
        reverse("oscar_loyalty:use-points"),
        {"points": "40", "csrfmiddlewaretoken": token},
        user=euro_shopper,
    ).follow(user=euro_shopper)
    assert messages(refused) == ["Points cannot be used on a basket in EUR."]
    assert ledger.get_account(euro_shopper).balance == 100
    assert not Redemption.objects.exists()


@override_settings(OSCAR_LOYALTY_POINT_VALUE_BY_CURRENCY={"EUR": D("0.90")})
def test_a_currency_with_its_own_point_value_converts(django_app, euro_shopper):
    page = use(django_app, euro_shopper, "40")
    assert messages(page) == ["You used 40 points: €36.00 off your basket."]
    assert "€84.00" in text(page.html.select_one("#basket_totals"))
    assert Redemption.objects.get().value == D("36.00")
    assert ledger.get_account(euro_shopper).balance == 60


@override_settings(OSCAR_DEFAULT_CURRENCY="JPY", OSCAR_LOYALTY_POINT_VALUE=D("1"))
def test_a_yen_point_never_pays_a_dollar(django_app, customer):
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="Order 1")
    basket_in(django_app, customer, "USD", "120.00")
    page = django_app.get("/basket/", user=customer)
    assert "Points cannot be used on a basket in USD." in text(page.html.select_one("#use-points"))
    basket = Basket.objects.get(owner=customer)
    with pytest.raises(redemption.RedemptionError):
        redemption.redeem_points(customer, basket, 40)
    assert ledger.get_account(customer).balance == 100
