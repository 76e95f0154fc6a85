from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.test import override_settings
from oscar.core.loading import get_class, get_model

from oscar_loyalty import awards, expiry, ledger
from oscar_loyalty.ledger import bulk
from oscar_loyalty.models import LedgerEntry, PendingAward, PointsLot
from tests.helpers import DAY0, at, balance

pytestmark = pytest.mark.django_db
EventHandler = get_class("order.processing", "EventHandler")
PaymentEventType = get_model("order", "PaymentEventType")
Kind = LedgerEntry.Kind


@pytest.fixture(params=["postgresql", "portable"], autouse=True)
def maturation_path(request, monkeypatch):
    """Mature through PostgreSQL's one statement and through the portable path (SQLite's)."""
    if request.param == "portable":
        monkeypatch.setattr(bulk, "earn_due_awards", bulk._earn_due_awards_portable)


def day(n, seconds=0):
    return DAY0 + timedelta(days=n, seconds=seconds)


@pytest.fixture
def order(customer, place_order):
    """Day 0: two lines of $100 each: 20 points."""
    return at(day(0), place_order, customer, [("100.00", 1), ("100.00", 1)])


def test_pending_on_day_29_earned_on_day_30(customer, order):
    assert at(day(29, 86399), awards.mature_due_awards) == 0
    assert balance(customer) == 0
    assert at(day(30), awards.mature_due_awards) == 1
    assert balance(customer) == 20
    entry = LedgerEntry.objects.get(order=order)
    assert (entry.kind, entry.reason, entry.idempotency_key) == (
        Kind.EARN,
        f"Order {order.number}",
        f"earn:order:{order.number}",
    )
    assert PendingAward.objects.get(order=order).status == PendingAward.Status.EARNED
    lot = PointsLot.objects.get(entry=entry)
    assert lot.expires_at == datetime(2027, 2, 14, 9, tzinfo=UTC)


def test_cancelled_on_day_10_earns_nothing(customer, order):
    at(day(10), order.set_status, "Cancelled")
    assert PendingAward.objects.get(order=order).status == PendingAward.Status.VOID
    assert at(day(30), awards.mature_due_awards) == 0
    assert balance(customer) == 0


def test_half_the_lines_refunded_on_day_10_earns_half(customer, order):
    line = order.lines.first()
    at(day(10), line.set_status, "Refunded")
    assert PendingAward.objects.get(order=order).points == 10
    at(day(30), awards.mature_due_awards)
    assert balance(customer) == 10


def test_refund_payment_event_prorates_by_quantity(customer, place_order):
    order = at(day(0), place_order, customer, [("10.00", 4), ("20.00", 1)])  # 6 points
    refund, _ = PaymentEventType.objects.get_or_create(name="Refunded")
    line = order.lines.get(quantity=4)
    EventHandler().handle_payment_event(order, refund, D("30.00"), [line], [3])
    # kept 10 + 20 of 60: half of 6
    assert PendingAward.objects.get(order=order).points == 3
    # a second event for the same units does not count them twice
    EventHandler().handle_payment_event(order, refund, D("10.00"), [line], [1])
    assert PendingAward.objects.get(order=order).points == 2


def test_other_payment_events_change_nothing(customer, order):
    settled, _ = PaymentEventType.objects.get_or_create(name="Settled")
    EventHandler().handle_payment_event(order, settled, D("200"), list(order.lines.all()), [1, 1])
    assert PendingAward.objects.get(order=order).points == 20


def test_refund_on_day_40_claws_back(customer, order):
    at(day(30), awards.mature_due_awards)
    line = order.lines.first()
    line.set_status("Shipped")
    at(day(40), line.set_status, "Returned")
    assert balance(customer) == 10
    clawback = LedgerEntry.objects.get(kind=Kind.CLAWBACK)
    assert clawback.points == -10
    assert clawback.reverses == LedgerEntry.objects.get(kind=Kind.EARN)
    # the rest, later: everything is taken back, once
    at(day(41), order.set_status, "Cancelled")
    at(day(41), order.set_status, "Cancelled")
    assert balance(customer) == 0
    assert LedgerEntry.objects.filter(kind=Kind.CLAWBACK).count() == 2


def test_clawback_after_the_points_were_spent_takes_what_is_left(customer, order):
    at(day(30), awards.mature_due_awards)
    account = ledger.get_account(customer)
    ledger.spend(account, 15, key="spend:1", reason="Used")
    at(day(40), order.set_status, "Cancelled")
    assert balance(customer) == 0
    assert LedgerEntry.objects.get(kind=Kind.CLAWBACK).points == -5


def test_the_task_delivered_twice_posts_once(customer, order):
    assert at(day(30), awards.mature_due_awards) == 1
    assert at(day(30), awards.mature_due_awards) == 0
    award = PendingAward.objects.get(order=order)
    assert at(day(31), bulk.earn_awards, [award.pk], day(31)) == 0
    assert LedgerEntry.objects.filter(kind=Kind.EARN).count() == 1
    assert balance(customer) == 20


def test_maturation_works_in_chunks_across_accounts(django_user_model, place_order):
    users = [django_user_model.objects.create_user(f"u{i}", f"u{i}@x.com") for i in range(3)]
    for i in range(7):
        at(day(0), place_order, users[i % 3], [("10.00", i + 1)])
    assert at(day(30), awards.mature_due_awards, chunk_size=2) == 7
    assert [balance(u) for u in users] == [1 + 4 + 7, 2 + 5, 3 + 6]
    for user in users:
        balances = list(
            LedgerEntry.objects.filter(account__user=user)
            .order_by("id")
            .values_list("balance_after", flat=True)
        )
        assert balances == sorted(balances) and balances[-1] == balance(user)


def test_points_expire_on_the_exact_day(customer, order):
    at(day(30), awards.mature_due_awards)
    expires = PointsLot.objects.get().expires_at
    assert at(expires - timedelta(seconds=1), expiry.expire_due_points) == 0
    assert balance(customer) == 20
    assert at(expires, expiry.expire_due_points) == 1
    assert balance(customer) == 0
    entry = LedgerEntry.objects.get(kind=Kind.EXPIRE)
    assert (entry.points, entry.reason) == (-20, "Expired")
    assert at(expires, expiry.expire_due_points) == 0


def test_expiry_takes_only_what_was_not_spent(customer, order):
    at(day(30), awards.mature_due_awards)
    ledger.spend(ledger.get_account(customer), 12, key="s", reason="Used")
    at(day(400), expiry.expire_due_points)
    assert LedgerEntry.objects.get(kind=Kind.EXPIRE).points == -8
    assert balance(customer) == 0


@override_settings(OSCAR_LOYALTY_EXPIRY_POLICY="inactivity", OSCAR_LOYALTY_EXPIRY_MONTHS=6)
def test_inactivity_policy_expires_everything_after_months_without_activity(customer, order):
    at(day(30), awards.mature_due_awards)  # activity on day 30
    assert PointsLot.objects.get().expires_at is None
    account = ledger.get_account(customer)
    six_months = datetime(2026, 8, 14, 9, tzinfo=UTC)
    assert expiry.expiring_soon(account, days=30, now=six_months - timedelta(days=10)) == [
        (six_months.date(), 20)
    ]
    assert at(six_months - timedelta(seconds=1), expiry.expire_due_points) == 0
    assert at(six_months, expiry.expire_due_points) == 1
    assert balance(customer) == 0


@override_settings(OSCAR_LOYALTY_EXPIRY_POLICY="never")
def test_never_policy_expires_nothing(customer, order):
    at(day(30), awards.mature_due_awards)
    assert at(day(3000), expiry.expire_due_points) == 0
    assert balance(customer) == 20


def test_expiring_soon_groups_by_day(customer):
    account = ledger.get_account(customer)
    at(day(0), ledger.earn, account, 5, key="a", reason="r")
    at(day(0, 60), ledger.earn, account, 7, key="b", reason="r")
    at(day(20), ledger.earn, account, 9, key="c", reason="r")
    first = datetime(2027, 1, 15, 9, tzinfo=UTC)
    assert expiry.expiring_soon(account, days=30, now=first - timedelta(days=29)) == [
        (first.date(), 12),
    ]
    assert expiry.expiring_soon(account, days=30, now=first - timedelta(days=5)) == [
        (first.date(), 12),
        ((first + timedelta(days=20)).date(), 9),
    ]
    assert expiry.expiring_soon(account, days=30, now=first - timedelta(days=40)) == []


def test_units_refunded_before_the_task_ran_are_left_out_of_the_award(
    customer, place_order, monkeypatch
):
    from oscar_loyalty import tasks

    queued = []
    monkeypatch.setattr("oscar_loyalty.tasks.order_placed.delay", queued.append)
    order = at(day(0), place_order, customer, [("100.00", 1), ("100.00", 1)])
    order.lines.first().set_status("Refunded")  # nothing recorded yet to recompute
    at(day(1), tasks.order_placed.apply, args=queued, throw=True)
    award = PendingAward.objects.get(order=order)
    assert (award.points, award.original_points) == (10, 20)
    assert at(day(30), awards.mature_due_awards) == 1
    assert balance(customer) == 10
