"""Where bonus points and guest orders meet points vouchers, refunds and referrals."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import RequestFactory
from oscar.apps.offer.applicator import Applicator
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_model
from oscar.test.factories import create_order, create_product

from oscar_loyalty import awards, guests, redemption, referrals
from oscar_loyalty.models import BonusAction, LedgerEntry, PendingAward, Redemption, Referral
from tests.helpers import balance, basket_for

pytestmark = pytest.mark.django_db
Basket = get_model("basket", "Basket")
ProductReview = get_model("reviews", "ProductReview")
DAY0 = datetime(2026, 7, 1, 9, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(DAY0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def review_bonus():
    return BonusAction.objects.create(action="review", enabled=True, points=100)


def approve_review(user):
    return ProductReview.objects.create(
        product=create_product(),
        user=user,
        title="t",
        body="b",
        score=5,
        status=ProductReview.APPROVED,
    )


def priced(basket):
    basket = Basket.objects.get(pk=basket.pk)
    basket.strategy = Default()
    Applicator().apply(basket, basket.owner)
    return basket


def test_bonus_points_spent_in_a_voucher_then_the_order_refunded(
    customer, review_bonus, clock, django_capture_on_commit_callbacks
):
    """The review bonus pays for part of an order; refunding that order gives the points back
    through the voucher and takes back only what the order itself earned."""
    approve_review(customer)
    basket = basket_for(customer, "300.00")
    redemption.redeem_points(customer, basket, 100)
    with django_capture_on_commit_callbacks(execute=True):
        order = create_order(basket=priced(basket), user=customer)
    assert balance(customer) == 0
    assert PendingAward.objects.get(order=order).points == 20  # $200 paid after the voucher
    order.set_status("Cancelled")
    assert Redemption.objects.get().status == Redemption.Status.RESTORED
    assert balance(customer) == 100  # the bonus is back, the order earned nothing
    clock.shift(timedelta(days=31))
    awards.mature_due_awards()
    assert balance(customer) == 100


def test_a_withdrawn_review_whose_points_sit_in_a_voucher_never_comes_back(customer, review_bonus):
    written = approve_review(customer)
    basket = basket_for(customer, "300.00")
    used = redemption.redeem_points(customer, basket, 100)
    written.status = ProductReview.REJECTED
    written.save()  # nothing to take now: it waits on the voucher's spend
    assert balance(customer) == 0
    redemption.voucher_removed(used.voucher)
    assert balance(customer) == 0  # given back, and taken at once
    entries = LedgerEntry.objects.filter(account__user=customer)
    assert sum(entries.values_list("points", flat=True)) == 0


def test_a_guest_order_credited_then_refunded_before_and_after_maturing(
    customer, place_order, clock
):
    first = place_order(None, [("100.00", 1), ("60.00", 1)], guest_email="ana@example.com")
    guests.credit_guest_orders(customer, "ana@example.com")
    first.lines.get(line_price_incl_tax="60.00").set_status("Refunded")  # in its window
    assert PendingAward.objects.get(order=first).points == 10
    clock.shift(timedelta(days=31))
    awards.mature_due_awards()
    assert balance(customer) == 10
    first.set_status("Cancelled")  # after maturing: taken back
    assert balance(customer) == 0


def test_a_referred_friend_who_had_ordered_as_a_guest_earns_their_orders_not_the_referral(
    customer, django_user_model, place_order, review_bonus
):
    """The fraud rule refuses the referral (they had ordered before, as a guest), but
    verifying their address still credits that order, and their review earns its bonus."""
    place_order(None, [("100.00", 1)], guest_email="friend@example.com")
    friend = django_user_model.objects.create_user("friend", "friend@example.com", "x")
    request = RequestFactory().get("/")
    request.COOKIES[referrals.COOKIE] = "x"
    code = referrals.code_for(customer)
    request.get_signed_cookie = lambda *a, **k: code.code
    referral = referrals.signed_up(request, friend)
    assert referral.status == Referral.Status.REJECTED
    guests.credit_guest_orders(friend, "friend@example.com")
    approve_review(friend)
    assert balance(friend) == 100
    assert PendingAward.objects.filter(account__user=friend).count() == 1
    assert balance(customer) == 0


def test_a_referred_friends_review_pays_the_friend_and_not_the_referrer(
    customer, django_user_model, place_order, review_bonus, clock
):
    friend = django_user_model.objects.create_user("friend", "friend@example.com", "x")
    referral = Referral.objects.create(referrer=customer, referred=friend)
    approve_review(friend)
    place_order(friend, [("100.00", 1)])
    clock.shift(timedelta(days=31))
    awards.mature_due_awards()
    assert balance(friend) == 100 + 10
    assert balance(customer) == 5  # the referral's reward only
    assert PendingAward.objects.get(referral=referral).status == PendingAward.Status.EARNED


def test_no_order_of_one_customer_is_credited_to_another(customer, django_user_model, place_order):
    mine = place_order(customer, [("100.00", 1)])
    thief = django_user_model.objects.create_user("t", "thief@example.com", "x")
    assert guests.credit_guest_orders(thief, customer.email) == []
    assert not PendingAward.objects.filter(account__user=thief).exists()
    assert PendingAward.objects.get(order=mine).account.user == customer
