"""The referred friend's welcome, and spending made understandable.

The link's banner names the inviter by first name (never the email) and the
gift in money; the sign-up page repeats it; the welcome coupon lands in the
basket and has its own heading on the Rewards page. The basket's points box
gives the share and the points needed; the Rewards page says what is missing,
asks before claiming, and offers reward codes to copy or use.
"""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone, translation
from oscar.core.loading import get_model
from oscar.test.factories import create_product, create_stockrecord

from oscar_loyalty import ledger, referrals
from oscar_loyalty.coupons.creation import CouponSpec, save_coupon
from oscar_loyalty.models import Redemption, Referral, Reward
from tests.helpers import messages, text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def in_english():
    """URLs reversed here are the English ones, whatever language an earlier test left on."""
    with translation.override("en"):
        yield


Basket = get_model("basket", "Basket")


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


@pytest.fixture
def inviter(customer):
    customer.first_name, customer.last_name = "Carmen María", "Ruiz"
    customer.save()
    return customer


def signup(app, email):
    page = app.get("/auth/signup/")
    form = next(f for f in page.forms.values() if "signup" in (f.action or ""))
    form["email"] = email
    form["password1"] = form["password2"] = "a-Long-passw0rd!"
    return form.submit().maybe_follow()


def product(title, price):
    item = create_product(title=title)
    create_stockrecord(item, price=D(price), num_in_stock=100)
    return item


def add(app, user, item):
    app.get(item.get_absolute_url(), user=user).forms["add_to_basket_form"].submit(user=user)


def test_the_link_lands_on_a_banner_naming_the_inviter_and_the_gift(django_app, inviter):
    code = referrals.code_for(inviter).code
    page = django_app.get(f"/r/{code}/").follow()
    banner = page.html.select_one("#messages .alert-referral-welcome")
    assert text(banner).lstrip("×").strip() == (
        "Carmen invited you: sign up and get 10% off your first order "
        "($5.00 off an order of $50.00). Sign up"
    )
    assert "ana@example.com" not in page.text and "Ruiz" not in page.text
    assert django_app.get(banner.select_one("a")["href"]).maybe_follow().status_code == 200


def test_an_inviter_without_a_first_name_is_a_friend_never_an_email(django_app, customer):
    code = referrals.code_for(customer).code
    page = django_app.get(f"/r/{code}/").follow()
    assert "A friend invited you" in text(page.html.select_one("#messages"))
    assert "ana@" not in page.text


@override_settings(
    OSCAR_LOYALTY_REFERRAL_WELCOME_COUPON={"kind": "fixed", "value": D("7.50"), "days": 10}
)
def test_a_fixed_gift_is_its_amount(django_app, inviter):
    code = referrals.code_for(inviter).code
    page = django_app.get(f"/r/{code}/").follow()
    assert "sign up and get $7.50 off your first order." in text(page.html.select_one("#messages"))


@pytest.mark.parametrize("link", ["/r/NOSUCHCODE/", "/r/abc$%25/"])
def test_forged_or_unknown_codes_get_no_banner(django_app, link):
    page = django_app.get(link, expect_errors=True).maybe_follow()
    assert page.html.select_one(".alert-referral-welcome") is None


def test_your_own_link_gets_no_banner(django_app, inviter):
    code = referrals.code_for(inviter).code
    page = django_app.get(f"/r/{code}/", user=inviter).follow(user=inviter)
    assert page.html.select_one(".alert-referral-welcome") is None


def test_the_sign_up_page_mentions_the_gift(django_app, inviter):
    assert django_app.get("/auth/signup/").html.select_one("#signup-gift") is None
    django_app.get(f"/r/{referrals.code_for(inviter).code}/")
    gift = text(django_app.get("/auth/signup/").html.select_one("#signup-gift"))
    assert gift.startswith("Carmen invited you: your gift is 10% off your first order")


def test_a_forged_cookie_shows_no_gift_on_sign_up(django_app, inviter):
    django_app.set_cookie(referrals.COOKIE, "FORGED:sig")
    assert django_app.get("/auth/signup/").html.select_one("#signup-gift") is None


def test_the_welcome_coupon_is_in_the_basket_after_sign_up(django_app, inviter):
    django_app.get(f"/r/{referrals.code_for(inviter).code}/")
    add(django_app, None, product("Lamp", "100.00"))  # shopping before signing up
    page = signup(django_app, "friend@example.com")
    friend = get_model("auth", "User").objects.get(email="friend@example.com")
    coupon = Referral.objects.get(referred=friend).welcome_voucher
    assert any(f"coupon {coupon.code}, is in your basket" in message for message in messages(page))
    basket = django_app.get("/basket/", user=friend)
    totals = text(basket.html.select_one("#basket_totals"))
    assert coupon.code in totals and "-$10.00" in totals
    rewards = django_app.get("/accounts/rewards/", user=friend)
    welcome = rewards.html.select_one("#rewards-welcome")
    assert text(welcome.select_one("h2")) == "Your welcome gift"
    assert coupon.code in text(welcome) and "It is in your basket." in text(welcome)
    assert "10% off your first order" in text(welcome)
    assert coupon.code not in text(rewards.html.select_one("#rewards-referral"))


def test_welcome_coupon_with_an_empty_basket_waits_there(django_app, inviter):
    django_app.get(f"/r/{referrals.code_for(inviter).code}/")
    signup(django_app, "friend@example.com")
    friend = get_model("auth", "User").objects.get(email="friend@example.com")
    coupon = Referral.objects.get(referred=friend).welcome_voucher
    assert Basket.open.get(owner=friend).vouchers.filter(pk=coupon.pk).exists()
    add(django_app, friend, product("Lamp", "100.00"))
    assert "-$10.00" in text(
        django_app.get("/basket/", user=friend).html.select_one("#basket_totals")
    )


def test_self_referral_gets_no_coupon_in_any_basket(django_app, inviter):
    code = referrals.code_for(inviter).code
    django_app.get(f"/r/{code}/")
    signup(django_app, "ANA+shop@example.com")  # the referrer's own address
    friend = get_model("auth", "User").objects.get(email__iexact="ANA+shop@example.com")
    assert Referral.objects.get(referred=friend).welcome_voucher is None
    assert not Basket.objects.filter(vouchers__code__startswith="WELCOME-").exists()


def test_welcome_coupon_and_points_in_one_basket(django_app, inviter):
    """Crossing: the coupon takes its 10%, points pay at most half of what is left."""
    django_app.get(f"/r/{referrals.code_for(inviter).code}/")
    signup(django_app, "friend@example.com")
    friend = get_model("auth", "User").objects.get(email="friend@example.com")
    ledger.earn(ledger.get_account(friend), 100, key="seed-friend", reason="Order 1")
    add(django_app, friend, product("Lamp", "100.00"))
    page = django_app.get("/basket/", user=friend)
    box = text(page.html.select_one("#use-points"))
    assert "On this basket, points can pay up to $45.00: 45 points." in box
    assert "From 10 to 45 on this basket." in box
    form = page.forms["use-points-form"]
    form["points"] = "45"
    page = form.submit(user=friend).follow(user=friend)
    totals = text(page.html.select_one("#basket_totals"))
    assert "Points (45)" in totals and "-$45.00" in totals and "-$10.00" in totals
    assert "$45.00" in totals
    assert "earns you 4 points" in text(page.html.select_one("#basket-earn"))  # on $45 paid


# Spending made understandable


@pytest.fixture
def shopper(customer, django_app):
    ledger.earn(ledger.get_account(customer), 4, key="seed", reason="Order 1")
    add(django_app, customer, product("Lamp", "120.00"))
    return customer


def test_the_points_box_gives_the_share_and_the_points_needed(django_app, shopper):
    box = django_app.get("/basket/", user=shopper).html.select_one("#use-points")
    assert "On this basket, points can pay up to $60.00: 60 points." in text(box)
    assert text(box.select_one("#points-needed")) == (
        "You can use points from 10 points at a time: 6 points more to go."
    )
    assert box.select_one("#use-points-form") is None


def test_a_customer_with_no_points_still_sees_the_rule(django_app, customer):
    add(django_app, customer, product("Lamp", "120.00"))
    box = text(django_app.get("/basket/", user=customer).html.select_one("#use-points"))
    assert "You have 0 points" in box and "10 points more to go" in box


def test_the_basket_names_points_vouchers_by_their_points(django_app, customer):
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="Order 1")
    add(django_app, customer, product("Lamp", "120.00"))
    form = django_app.get("/basket/", user=customer).forms["use-points-form"]
    form["points"] = "10"
    page = form.submit(user=customer).follow(user=customer)
    totals = page.html.select_one("#basket_totals")
    voucher = Redemption.objects.get().voucher
    assert "Points (10)" in text(totals)
    assert voucher.code not in text(totals) and voucher.name not in text(totals)
    assert totals.select_one(f"form[action$='/vouchers/{voucher.pk}/remove/']") is not None


def test_a_store_coupon_keeps_its_name_and_code(django_app, customer):
    now = timezone.now()
    save_coupon(
        CouponSpec(
            name="Spring sale",
            code="SPRING",
            kind="percentage",
            value=D("10"),
            start=now - timedelta(days=1),
            end=now + timedelta(days=1),
        )
    )
    add(django_app, customer, product("Lamp", "120.00"))
    form = django_app.get("/basket/", user=customer).forms["voucher_form"]
    form["code"] = "SPRING"
    page = form.submit(user=customer).follow(user=customer)
    assert "Spring sale (SPRING)" in text(page.html.select_one("#basket_totals"))


def test_rewards_say_how_many_points_are_missing_and_ask_before_claiming(django_app, customer):
    ledger.earn(ledger.get_account(customer), 30, key="seed", reason="Order 1")
    Reward.objects.create(name="Free shipping", kind="free_shipping", cost=30)
    Reward.objects.create(name="Big prize", kind="discount", cost=500, value=D("50"))
    page = django_app.get("/accounts/rewards/", user=customer)
    items = {text(li.find("strong")): li for li in page.html.select("#rewards-catalogue li")}
    assert text(items["Big prize"].select_one(".reward-missing")) == "470 points more needed"
    assert items["Big prize"].find("button").has_attr("disabled")
    assert items["Free shipping"].select_one(".reward-missing") is None
    form = items["Free shipping"].select_one("form.claim-reward")
    assert form["data-confirm"] == (
        "Spend 30 points on “Free shipping”? You will get a code to use in your basket."
    )
    assert "confirm" in form["onsubmit"]


def test_reward_codes_can_be_copied_and_used_in_the_basket(django_app, customer):
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="Order 1")
    reward = Reward.objects.create(name="$5 off", kind="discount", cost=25, value=D("5.00"))
    add(django_app, customer, product("Lamp", "120.00"))
    page = django_app.get("/accounts/rewards/", user=customer)
    form = next(f for f in page.forms.values() if f"/{reward.pk}/claim/" in (f.action or ""))
    page = form.submit(user=customer).follow(user=customer)
    code = Redemption.objects.get().voucher.code
    row = page.html.select_one("#reward-codes li")
    assert row.select_one(".copy-code")["data-code"] == code
    use = next(f for f in page.forms.values() if "code" in f.fields and f["code"].value == code)
    basket = use.submit(user=customer)
    assert basket.location.endswith("/basket/")
    basket = basket.follow(user=customer)
    assert messages(basket) == [f"Coupon {code} applied to your basket."]
    totals = text(basket.html.select_one("#basket_totals"))
    assert "Reward: $5 off" in totals and "-$5.00" in totals


def test_use_in_basket_never_follows_a_next_to_another_site(django_app, customer):
    add(django_app, customer, product("Lamp", "120.00"))
    token = django_app.get("/basket/", user=customer).forms["voucher_form"]["csrfmiddlewaretoken"]
    response = django_app.post(
        "/basket/coupon/",
        {"code": "NOPE", "next": "https://evil.example.com/", "csrfmiddlewaretoken": token.value},
        user=customer,
    )
    assert response.status_code == 302
    assert "evil.example.com" not in response.headers["Location"]
