import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from urllib.parse import unquote, urlsplit

import pytest
from django.core.cache import cache
from django.test import RequestFactory, override_settings
from oscar.apps.customer.signals import user_registered
from oscar.core.loading import get_model

from oscar_loyalty import awards, ledger, referrals
from oscar_loyalty.models import MarketingConsent, PendingAward, Referral, ReferralCode
from tests.helpers import at, messages

pytestmark = pytest.mark.django_db
User = get_model("auth", "User")
Basket = get_model("basket", "Basket")
Country = get_model("address", "Country")
ShippingAddress = get_model("order", "ShippingAddress")
UserAddress = get_model("address", "UserAddress")
DAY0 = datetime(2026, 4, 1, 10, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_cache():
    """allauth's own sign-up limits count in the cache too."""
    cache.clear()


def signup(app, email, consent=False):
    page = app.get("/auth/signup/")
    form = next(f for f in page.forms.values() if "signup" in (f.action or ""))
    form["email"] = email
    form["password1"] = form["password2"] = "a-Long-passw0rd!"
    form["marketing_consent"] = consent
    return form.submit().maybe_follow()


@pytest.fixture
def code(customer):
    return referrals.code_for(customer).code


def test_link_sign_up_first_order_and_thirty_days_later_the_referrer_earns(
    django_app, customer, code, place_order
):
    visit = django_app.get(f"/r/{code}/")
    assert visit.status_code == 302
    assert referrals.COOKIE in django_app.cookies
    welcome = signup(django_app, "friend@example.com")
    friend = User.objects.get(email="friend@example.com")
    referral = Referral.objects.get(referred=friend)
    assert (referral.referrer, referral.status) == (customer, Referral.Status.ACTIVE)
    coupon = referral.welcome_voucher
    assert coupon.code.startswith("WELCOME-") and coupon.is_active()
    assert any(coupon.code in m for m in messages(welcome))
    assert MarketingConsent.objects.get(user=friend).marketing is False

    order = at(DAY0, place_order, friend, [("50.00", 1)])
    award = PendingAward.objects.get(referral=referral)
    assert (award.account.user, award.points) == (customer, 5)
    at(DAY0 + timedelta(days=29), awards.mature_due_awards)
    assert ledger.get_account(customer).balance == 0
    at(DAY0 + timedelta(days=30), awards.mature_due_awards)
    assert ledger.get_account(customer).balance == 5
    assert ledger.get_account(friend).balance == 5  # their own order's points
    assert referrals.figures(customer) == {"visits": 1, "signups": 1, "rewarded": 1}
    entry = ledger.get_account(customer).entries.get()
    assert entry.order is None  # the friend's order is not the referrer's business
    assert entry.customer_reason() == "A friend you referred placed their first order"
    assert str(order.number) not in django_app.get("/accounts/rewards/", user=customer).text

    page = django_app.get("/accounts/rewards/", user=friend)
    assert coupon.code in page.html.select_one("#welcome-coupon").text


def test_consent_is_stored_when_given(django_app):
    signup(django_app, "yes@example.com", consent=True)
    assert MarketingConsent.objects.get(user__email="yes@example.com").marketing is True


def test_rewards_page_shows_the_link_share_buttons_and_figures(django_app, customer, code):
    page = django_app.get("/accounts/rewards/", user=customer)
    url = page.html.select_one("#referral-url")["value"]
    assert url.endswith(f"/r/{code}/")
    shares = [a["href"] for a in page.html.select("#share-links a")]
    assert [urlsplit(h).netloc or urlsplit(h).scheme for h in shares] == [
        "mailto",
        "wa.me",
        "www.facebook.com",
        "twitter.com",
    ]
    assert all(code in unquote(h) for h in shares)
    assert not page.html.select('script[src*="facebook"], script[src*="twitter"]')
    figures = re.sub(r"\s+", " ", page.html.select_one("#referral-figures").text).strip()
    assert figures == "Visits: 0 · Sign-ups: 0 · Rewarded: 0"


def test_visiting_your_own_link_changes_nothing(django_app, customer, code):
    django_app.get(f"/r/{code}/", user=customer)
    assert referrals.COOKIE not in django_app.cookies
    assert ReferralCode.objects.get(code=code).visits == 0


@pytest.mark.parametrize("bad", ["NOPE1234", "<script>", "x" * 300, "%00", "..", "ab-cd"])
def test_unknown_or_malformed_codes_just_show_the_shop(django_app, bad):
    page = django_app.get(f"/r/{bad}/", expect_errors=True)
    assert page.status_code in (302, 404)
    assert referrals.COOKIE not in django_app.cookies


@pytest.mark.parametrize("cookie", ["ABCDEFGH", "ABCDEFGH:1abc:forged", ""])
def test_forged_cookies_are_ignored(django_app, customer, code, cookie):
    django_app.set_cookie(referrals.COOKIE, cookie or f"{code}:bad:signature")
    signup(django_app, "friend@example.com")
    assert not Referral.objects.exists()


def test_same_email_once_normalised_is_a_self_referral(django_app, customer, code):
    django_app.get(f"/r/{code}/")
    signup(django_app, "ANA+again@Example.com")
    referral = Referral.objects.get()
    assert referral.status == Referral.Status.REJECTED
    assert referral.welcome_voucher is None


def test_customers_who_ordered_before_are_not_referred(django_app, code, place_order):
    place_order(None, [("30.00", 1)], guest_email="old@example.com")
    django_app.get(f"/r/{code}/")
    signup(django_app, "old@example.com")
    assert Referral.objects.get().status == Referral.Status.REJECTED


@pytest.fixture
def friend(django_app, code):
    django_app.get(f"/r/{code}/")
    signup(django_app, "friend@example.com")
    return User.objects.get(email="friend@example.com")


def test_small_first_order_earns_the_referrer_nothing(friend, place_order):
    place_order(friend, [("10.00", 1)])
    assert not PendingAward.objects.filter(referral__isnull=False).exists()
    assert Referral.objects.get().status == Referral.Status.REJECTED


def test_only_the_first_order_counts(friend, place_order):
    place_order(friend, [("10.00", 1)])
    place_order(friend, [("90.00", 1)])
    assert not PendingAward.objects.filter(referral__isnull=False).exists()


def test_first_order_shipped_to_the_referrers_address(customer, friend, place_order):
    us = Country.objects.create(iso_3166_1_a2="US", name="United States", printable_name="US")
    UserAddress.objects.create(
        user=customer, first_name="A", line1="1 Main St", line4="X", postcode="12345", country=us
    )
    same = ShippingAddress.objects.create(
        first_name="F", line1="1 main st.", line4="X", postcode="123 45", country=us
    )
    place_order(friend, [("50.00", 1)], shipping_address=same)
    assert Referral.objects.get().reason == "Shipped to the referrer's address."


@override_settings(OSCAR_LOYALTY_REFERRAL_MONTHLY_CAP=1)
def test_monthly_cap(django_app, customer, code, place_order):
    for email in ("one@example.com", "two@example.com"):
        django_app.reset()
        django_app.get(f"/r/{code}/")
        signup(django_app, email)
        place_order(User.objects.get(email=email), [("50.00", 1)])
    assert PendingAward.objects.filter(referral__isnull=False).count() == 1
    assert Referral.objects.get(referred__email="two@example.com").status == "rejected"


def test_cancelled_first_order_earns_nothing(customer, friend, place_order):
    order = at(DAY0, place_order, friend, [("50.00", 1)])
    at(DAY0 + timedelta(days=5), order.set_status, "Cancelled")
    at(DAY0 + timedelta(days=31), awards.mature_due_awards)
    assert ledger.get_account(customer).balance == 0


def test_refund_below_the_minimum_after_maturity_takes_the_reward_back(
    customer, friend, place_order
):
    order = at(DAY0, place_order, friend, [("30.00", 1), ("30.00", 1)])
    at(DAY0 + timedelta(days=30), awards.mature_due_awards)
    assert ledger.get_account(customer).balance == 5
    at(DAY0 + timedelta(days=40), order.lines.first().set_status, "Refunded")
    assert ledger.get_account(customer).balance == 0


def test_staff_void_a_referral(customer, friend, place_order, staff):
    at(DAY0, place_order, friend, [("50.00", 1)])
    referrals.void(Referral.objects.get(), staff)
    at(DAY0 + timedelta(days=31), awards.mature_due_awards)
    assert ledger.get_account(customer).balance == 0
    assert Referral.objects.get().status == Referral.Status.VOID


def test_oscars_own_registration_records_referrals_too(customer, code, django_user_model):
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse

    request, probe, response = RequestFactory().get("/"), RequestFactory().get("/"), HttpResponse()
    probe.user = AnonymousUser()
    referrals.visit(probe, response, code)
    request.COOKIES[referrals.COOKIE] = response.cookies[referrals.COOKIE].value
    user = django_user_model.objects.create_user("oscar", "oscar-reg@example.com", "x")
    user_registered.send(sender=None, request=request, user=user)
    assert Referral.objects.get(referred=user).referrer == customer


@override_settings(OSCAR_LOYALTY_WELCOME_BONUS_POINTS=25)
def test_welcome_bonus_for_joining(django_app):
    signup(django_app, "new@example.com")
    signup_user = User.objects.get(email="new@example.com")
    assert ledger.get_account(signup_user).balance == 25


@override_settings(OSCAR_LOYALTY_WELCOME_BONUS_POINTS=25)
def test_welcome_bonus_reason_in_the_customers_language(django_app):
    signup(django_app, "nuevo@example.com")
    user = User.objects.get(email="nuevo@example.com")
    history = django_app.get("/es/accounts/rewards/", user=user).html.select_one("#rewards-history")
    assert "Bono de bienvenida" in history.text
    assert "Welcome bonus" not in history.text


def test_welcome_coupon_can_be_a_fixed_amount(django_app, code):
    with override_settings(
        OSCAR_LOYALTY_REFERRAL_WELCOME_COUPON={"kind": "fixed", "value": D("7"), "days": 10}
    ):
        django_app.get(f"/r/{code}/")
        signup(django_app, "friend@example.com")
    offer = Referral.objects.get().welcome_voucher.offers.get()
    assert (offer.benefit.type, offer.benefit.value) == ("Absolute", D("7.00"))


# Address variants, visit counting and the welcome coupon (abuse found by testing as an attacker).


@pytest.mark.parametrize(
    "variant", ["jdoe@gmail.com", "j.doe@googlemail.com", "j.d.oe+x@gmail.com"]
)
def test_a_gmail_variant_of_the_referrers_address_is_a_self_referral(
    django_app, django_user_model, variant
):
    referrer = django_user_model.objects.create_user("jd", "j.doe@gmail.com", "x")
    django_app.get(f"/r/{referrals.code_for(referrer).code}/")
    signup(django_app, variant)
    referral = Referral.objects.get()
    assert (referral.status, referral.reason) == ("rejected", "Same email address as the referrer.")
    assert referral.welcome_voucher is None


@pytest.mark.parametrize(
    "guest,member",
    [
        ("buyer+shop@x.com", "buyer@x.com"),
        ("Buyer@X.com", "buyer+new@x.com"),
        ("j.doe@googlemail.com", "jdoe@gmail.com"),
    ],
)
def test_a_variant_of_a_guest_address_has_ordered_before(
    django_app, code, place_order, guest, member
):
    place_order(None, [("30.00", 1)], guest_email=guest)
    django_app.get(f"/r/{code}/")
    signup(django_app, member)
    referral = Referral.objects.get()
    assert (referral.status, referral.reason) == ("rejected", "The customer had ordered before.")


def test_another_guests_orders_do_not_count(django_app, code, place_order):
    place_order(None, [("30.00", 1)], guest_email="buyer2@x.com")
    place_order(None, [("30.00", 1)], guest_email="jbuyer@x.com")
    django_app.get(f"/r/{code}/")
    signup(django_app, "buyer@x.com")
    assert Referral.objects.get().status == Referral.Status.ACTIVE


def test_a_visit_is_counted_once_per_client_and_code_on_get_only(django_app, code):
    assert django_app.head(f"/r/{code}/").status_code == 302
    assert ReferralCode.objects.get(code=code).visits == 0
    for _n in range(3):
        django_app.get(f"/r/{code}/")
    assert ReferralCode.objects.get(code=code).visits == 1
    django_app.reset()
    django_app.get(f"/r/{code}/")
    assert ReferralCode.objects.get(code=code).visits == 2


def test_a_client_holding_another_code_counts_for_the_new_one(django_app, code, django_user_model):
    other = referrals.code_for(django_user_model.objects.create_user("b", "b@example.com", "x"))
    django_app.get(f"/r/{code}/")
    django_app.get(f"/r/{other.code}/")
    assert ReferralCode.objects.get(code=code).visits == 1
    assert ReferralCode.objects.get(pk=other.pk).visits == 1


def test_the_welcome_coupon_is_as_hard_to_guess_as_other_codes(friend):
    from oscar_loyalty.coupons import codes

    code = Referral.objects.get(referred=friend).welcome_voucher.code
    prefix, _dash, random_part = code.partition("-")
    assert prefix == "WELCOME"
    assert len(random_part) == codes.DEFAULT_LENGTH
    assert len(random_part) * codes.BITS_PER_CHARACTER >= codes.DEFAULT_BITS
    assert set(random_part) <= set(codes.ALPHABET)


def test_the_welcome_coupon_works_only_for_the_friend(django_app, friend, django_user_model):
    from oscar.test.factories import create_product, create_stockrecord

    from oscar_loyalty.models import OwnerCondition

    coupon = Referral.objects.get(referred=friend).welcome_voucher
    offer = coupon.offers.get()
    assert offer.condition.proxy_class.endswith(OwnerCondition.__name__)
    shoes = create_product(title="Trail shoes")
    create_stockrecord(shoes, price=D("80.00"), num_in_stock=10)

    def try_code(app, user):
        page = app.get(shoes.get_absolute_url(), user=user)
        page.forms["add_to_basket_form"].submit(user=user)
        form = app.get("/basket/", user=user).forms["voucher_form"]
        form["code"] = coupon.code
        return messages(form.submit(user=user).follow(user=user))

    stranger = django_user_model.objects.create_user("eve", "eve@example.com", "x")
    django_app.reset()
    assert try_code(django_app, stranger) == ["This code is not valid."]
    django_app.reset()
    assert try_code(django_app, None) == ["This code is not valid."]
    django_app.reset()
    # It went into the friend's basket at sign-up; taken out, it can be typed back in.
    Basket.objects.get(owner=friend).vouchers.remove(coupon)
    assert try_code(django_app, friend) == [f"Coupon {coupon.code} applied to your basket."]
