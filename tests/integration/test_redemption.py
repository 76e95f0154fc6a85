from datetime import timedelta
from decimal import Decimal as D

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone
from oscar.apps.offer.applicator import Applicator
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_model
from oscar.test.factories import create_order, create_product, create_stockrecord

from oscar_loyalty import awards, ledger, redemption
from oscar_loyalty.coupons import codes
from oscar_loyalty.models import LedgerEntry, PendingAward, PointsLot, Redemption, Reward
from tests.helpers import balance, basket_for

pytestmark = pytest.mark.django_db
Basket = get_model("basket", "Basket")
Kind = LedgerEntry.Kind


def reprice(basket):
    basket = Basket.objects.get(pk=basket.pk)
    basket.strategy = Default()
    Applicator().apply(basket, basket.owner)
    return basket


@pytest.fixture
def rich(customer):
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="Order 1")
    return customer


def test_points_become_a_voucher_off_the_basket(rich):
    basket = basket_for(rich, "120.00")
    used = redemption.redeem_points(rich, basket, 40)
    assert (used.points, used.value) == (40, D("40.00"))
    assert balance(rich) == 60
    spend = LedgerEntry.objects.get(kind=Kind.SPEND)
    assert (spend.points, spend.voucher) == (-40, used.voucher)
    basket = reprice(basket)
    assert basket.total_incl_tax == D("80.00")
    assert used.voucher.usage == "Single use"


@pytest.mark.parametrize(
    "points,message",
    [
        (5, "Use at least 10 points at a time."),
        (101, "You have 100 points."),
        (61, "You can use at most 60 points on this basket."),  # 50% of $120
        (0, "Use at least 10 points at a time."),
        (-20, "Use at least 10 points at a time."),
        (2.5, "Enter a whole number of points."),
        ("20", "Enter a whole number of points."),
        (True, "Enter a whole number of points."),
    ],
)
def test_bad_amounts_are_refused_and_change_nothing(rich, points, message):
    basket = basket_for(rich, "120.00")
    with pytest.raises(redemption.RedemptionError) as refusal:
        redemption.redeem_points(rich, basket, points)
    assert refusal.value.message == message
    assert balance(rich) == 100
    assert not Redemption.objects.exists() and not basket.vouchers.exists()


@override_settings(OSCAR_LOYALTY_MAX_BASKET_SHARE=D("2"))
def test_never_more_than_the_products_total(rich):
    basket = basket_for(rich, "30.00")
    with pytest.raises(redemption.RedemptionError):
        redemption.redeem_points(rich, basket, 31)
    assert redemption.redeem_points(rich, basket, 30).value == D("30.00")


def test_one_points_voucher_per_basket(rich):
    basket = basket_for(rich, "120.00")
    redemption.redeem_points(rich, basket, 20)
    with pytest.raises(redemption.RedemptionError):
        redemption.redeem_points(rich, basket, 20)
    assert balance(rich) == 80


def test_guests_and_empty_baskets_are_refused(rich):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(redemption.RedemptionError):
        redemption.redeem_points(AnonymousUser(), basket_for(None, "50.00"), 20)
    with pytest.raises(redemption.RedemptionError):
        redemption.redeem_points(rich, basket_for(rich), 20)


def test_a_points_voucher_is_worth_nothing_in_another_customers_basket(rich, django_user_model):
    used = redemption.redeem_points(rich, basket_for(rich, "120.00"), 40)
    other = django_user_model.objects.create_user("eve", "eve@example.com")
    theirs = basket_for(other, "120.00")
    theirs.vouchers.add(used.voucher)
    assert reprice(theirs).total_incl_tax == D("120.00")


def test_removing_the_voucher_gives_the_points_back_once(rich, django_app):
    basket = basket_for(rich, "120.00")
    used = redemption.redeem_points(rich, basket, 40)
    # Oscar's own "remove voucher" view: its signal gives the points back.
    django_app.set_user(rich)
    django_app.get("/basket/")
    csrf = django_app.cookies.get("csrftoken")
    django_app.post(f"/basket/vouchers/{used.voucher.pk}/remove/", {"csrfmiddlewaretoken": csrf})
    assert balance(rich) == 100
    assert Redemption.objects.get().status == Redemption.Status.RESTORED
    assert redemption.restore(used.pk) is None
    assert LedgerEntry.objects.filter(kind=Kind.RESTORE).count() == 1


@override_settings(OSCAR_LOYALTY_REDEMPTION_LIFETIME_HOURS=48)
def test_an_unused_voucher_gives_its_points_back_when_it_expires(rich):
    basket = basket_for(rich, "120.00")
    used = redemption.redeem_points(rich, basket, 40)
    assert redemption.expire_unused(now=timezone.now() + timedelta(hours=47)) == 0
    assert redemption.expire_unused(now=timezone.now() + timedelta(hours=49)) == 1
    assert redemption.expire_unused(now=timezone.now() + timedelta(hours=50)) == 0
    assert balance(rich) == 100
    used.voucher.refresh_from_db()
    assert not used.voucher.is_active()
    assert not Basket.objects.get(pk=basket.pk).vouchers.exists()


def test_order_paid_partly_with_points_earns_on_the_rest_and_cancelling_restores_once(
    rich, django_capture_on_commit_callbacks
):
    basket = basket_for(rich, "120.00")
    redemption.redeem_points(rich, basket, 60)
    basket = reprice(basket)
    with django_capture_on_commit_callbacks(execute=True):  # the order commits
        order = create_order(basket=basket, user=rich)
    assert order.total_incl_tax == D("60.00")
    used = Redemption.objects.get()
    assert (used.status, used.order) == (Redemption.Status.USED, order)
    assert PendingAward.objects.get(order=order).points == 6  # on the $60 paid
    assert redemption.expire_unused(now=timezone.now() + timedelta(days=30)) == 0
    order.set_status("Cancelled")
    order.set_status("Cancelled")
    assert balance(rich) == 100
    assert LedgerEntry.objects.filter(kind=Kind.RESTORE).count() == 1
    assert PendingAward.objects.get(order=order).status == PendingAward.Status.VOID


def test_a_voucher_used_by_an_order_is_never_given_back_even_before_the_order_is_processed(
    rich, monkeypatch
):
    """The order's task may run after the expiry job: placing the order marks the voucher."""
    monkeypatch.setattr("oscar_loyalty.tasks.order_placed.delay", lambda order_id: None)
    basket = basket_for(rich, "120.00")
    redemption.redeem_points(rich, basket, 60)
    order = create_order(basket=reprice(basket), user=rich)
    used = Redemption.objects.get()
    assert (used.status, used.order) == (Redemption.Status.USED, order)  # task not run yet
    assert redemption.expire_unused(now=timezone.now() + timedelta(days=30)) == 0
    assert balance(rich) == 40


@pytest.fixture
def mug():
    product = create_product(title="Mug")
    create_stockrecord(product, price=D("12.00"), num_in_stock=100)
    return product


def reward(**kwargs):
    defaults = {"name": "$5 off", "kind": Reward.Kind.DISCOUNT, "cost": 30, "value": D("5")}
    return Reward.objects.create(**{**defaults, **kwargs})


def test_claiming_a_reward_debits_its_cost_and_gives_a_personal_code(rich):
    prize = reward(stock=2)
    claim = redemption.claim_reward(rich, prize.pk)
    assert claim.voucher.code.startswith("RWD-")
    assert len(claim.voucher.code) - len("RWD-") == codes.DEFAULT_LENGTH  # >= 60 bits, as others
    assert balance(rich) == 70
    prize.refresh_from_db()
    assert prize.claimed == 1 and prize.left == 1
    basket = basket_for(rich, "20.00")
    basket.vouchers.add(claim.voucher)
    assert reprice(basket).total_incl_tax == D("15.00")


def test_free_product_reward(rich, mug):
    claim = redemption.claim_reward(rich, reward(kind=Reward.Kind.FREE_PRODUCT, product=mug).pk)
    basket = basket_for(rich, "20.00")
    basket.add_product(mug, 2)
    basket.vouchers.add(claim.voucher)
    assert reprice(basket).total_incl_tax == D("32.00")  # one mug free


def test_rewards_out_of_stock_expired_unknown_or_too_dear_are_refused(rich):
    sold_out = reward(stock=1, claimed=1)
    over = reward(ends_at=timezone.now() - timedelta(days=1))
    later = reward(starts_at=timezone.now() + timedelta(days=1))
    dear = reward(cost=500)
    for pk, message in [
        (sold_out.pk, "Sorry, this reward has run out."),
        (over.pk, "This reward is not available now."),
        (later.pk, "This reward is not available now."),
        (dear.pk, "You have 100 points: not enough for this."),
        (987654, "This reward does not exist."),
    ]:
        with pytest.raises(redemption.RedemptionError) as refusal:
            redemption.claim_reward(rich, pk)
        assert refusal.value.message == message
    assert balance(rich) == 100
    assert not Redemption.objects.exists()
    assert Reward.objects.get(pk=dear.pk).claimed == 0


def test_claimed_reward_codes_are_not_given_back_by_the_expiry_job(rich):
    redemption.claim_reward(rich, reward().pk)
    with time_machine.travel(timezone.now() + timedelta(days=90)):
        assert redemption.expire_unused() == 0
    assert balance(rich) == 70


def test_maturation_still_balances_with_spends(rich, django_capture_on_commit_callbacks):
    """An award maturing after points were spent adds to what is left, entries and lots agree."""
    basket = basket_for(rich, "120.00")
    redemption.redeem_points(rich, basket, 60)
    with django_capture_on_commit_callbacks(execute=True):  # the order commits
        order = create_order(basket=reprice(basket), user=rich)
    assert PendingAward.objects.get(order=order).points == 6  # on the $60 paid
    assert awards.mature_due_awards(now=timezone.now() + timedelta(days=31)) == 1
    assert balance(rich) == 46
    earned = LedgerEntry.objects.get(kind=Kind.EARN, order=order)
    assert (earned.points, earned.balance_after) == (6, 46)
    lots = PointsLot.objects.filter(account__user=rich)
    assert sum(lot.remaining for lot in lots) == 46


def test_an_order_cancelled_before_its_task_ran_earns_nothing_and_gives_the_points_back(
    rich, monkeypatch, django_capture_on_commit_callbacks
):
    from oscar_loyalty import tasks

    queued = []
    monkeypatch.setattr("oscar_loyalty.tasks.order_placed.delay", queued.append)
    basket = basket_for(rich, "120.00")
    redemption.redeem_points(rich, basket, 60)
    with django_capture_on_commit_callbacks(execute=True):  # the order commits
        order = create_order(basket=reprice(basket), user=rich)
    order.set_status("Cancelled")  # the worker was down: no award recorded to undo yet
    assert balance(rich) == 100  # the voucher was marked used as the order was placed
    tasks.order_placed.apply(args=queued, throw=True)
    assert PendingAward.objects.get(order=order).points == 0  # only the mark it was handled
    assert Redemption.objects.get().status == Redemption.Status.RESTORED
    assert balance(rich) == 100
    assert LedgerEntry.objects.filter(kind=Kind.RESTORE).count() == 1
