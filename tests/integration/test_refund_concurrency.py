"""Refunds and referrals racing the order's queued task, on PostgreSQL with real threads."""

import threading
import time

import pytest
from django.db import connection
from django.test import override_settings

from oscar_loyalty import redemption, referrals, tasks
from oscar_loyalty.models import PendingAward, Referral

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def in_thread(fn, *args):
    errors = []

    def run():
        try:
            fn(*args)
        except Exception as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_a_line_refund_saved_while_the_task_runs_is_not_lost(customer, place_order, monkeypatch):
    queued = []
    monkeypatch.setattr("oscar_loyalty.tasks.order_placed.delay", queued.append)
    order = place_order(customer, [("100.00", 1), ("100.00", 1)])  # 20 points
    recorded, go_on = threading.Event(), threading.Event()
    mark_used = redemption.mark_used

    def slow_mark_used(order):
        # The award is written, not yet committed, when the refund is saved.
        recorded.set()
        go_on.wait(10)
        return mark_used(order)

    monkeypatch.setattr(redemption, "mark_used", slow_mark_used)
    task, task_errors = in_thread(lambda: tasks.order_placed.apply(args=queued, throw=True))
    assert recorded.wait(10)
    line = order.lines.first()
    refund, refund_errors = in_thread(line.set_status, "Refunded")
    time.sleep(0.5)  # long enough for the refund to finish, were the order not locked
    go_on.set()
    task.join(20)
    refund.join(20)
    assert task_errors == refund_errors == []
    assert PendingAward.objects.get(order=order).points == 10


@override_settings(OSCAR_LOYALTY_REFERRAL_MONTHLY_CAP=1)
def test_two_first_orders_processed_at_once_respect_the_monthly_cap(
    customer, django_user_model, place_order, monkeypatch
):
    queued = []
    monkeypatch.setattr("oscar_loyalty.tasks.order_placed.delay", queued.append)
    for name in ("one", "two"):
        friend = django_user_model.objects.create_user(
            username=name, email=f"{name}@example.com", password="x"
        )
        Referral.objects.create(referrer=customer, referred=friend)
        place_order(friend, [("50.00", 1)])
    # Both tasks count the referrer's awards, then wait for each other before
    # recording: without a lock both counted 0. With the lock the second cannot
    # count until the first commits, so the first gives up waiting.
    counted = threading.Barrier(2, timeout=2)
    refuse_reward = referrals.ReferralRules.refuse_reward

    def refuse_then_wait(self, referral, order):
        reason = refuse_reward(self, referral, order)
        try:
            counted.wait()
        except threading.BrokenBarrierError:
            pass
        return reason

    monkeypatch.setattr(referrals.ReferralRules, "refuse_reward", refuse_then_wait)
    runs = [
        in_thread(lambda pk=pk: tasks.order_placed.apply(args=[pk], throw=True)) for pk in queued
    ]
    for thread, errors in runs:
        thread.join(30)
        assert errors == []
    assert PendingAward.objects.filter(referral__referrer=customer).count() == 1
    assert Referral.objects.filter(status=Referral.Status.REJECTED).count() == 1
