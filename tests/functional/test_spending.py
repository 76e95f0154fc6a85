import re
from decimal import Decimal as D

import pytest
from oscar.core.loading import get_model
from oscar.test.factories import create_product, create_stockrecord

from oscar_loyalty import ledger
from oscar_loyalty.models import LedgerEntry, Redemption, Reward

pytestmark = pytest.mark.django_db
Basket = get_model("basket", "Basket")


def text(node):
    return re.sub(r"\s+", " ", node.text).strip()


def messages(page):
    return [text(m).lstrip("×").strip() for m in page.html.select("#messages .alert")]


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
