"""The order's queued task and a cancellation at the same moment, on PostgreSQL."""

import threading
import time

import pytest
from django.db import connection

from oscar_loyalty import awards, tasks
from oscar_loyalty.models import PendingAward

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_cancellation_saved_while_the_task_runs_still_voids_the_award(
    customer, place_order, monkeypatch
):
    queued = []
    monkeypatch.setattr("oscar_loyalty.tasks.order_placed.delay", queued.append)
    order = place_order(customer, [("120.00", 1)])
    recording, go_on = threading.Event(), threading.Event()
    record_award = awards.record_award

    def slow_record_award(order):
        recording.set()
        go_on.wait(10)  # the cancellation is saved meanwhile
        record_award(order)

    monkeypatch.setattr(awards, "record_award", slow_record_award)

    def run_task():
        try:
            tasks.order_placed.apply(args=queued, throw=True)
        finally:
            connection.close()

    def cancel():
        try:
            order.set_status("Cancelled")
        finally:
            connection.close()

    task = threading.Thread(target=run_task)
    task.start()
    assert recording.wait(10)
    canceller = threading.Thread(target=cancel)
    canceller.start()
    time.sleep(0.5)  # long enough for the cancellation to save, were the order not locked
    go_on.set()
    task.join(20)
    canceller.join(20)
    assert PendingAward.objects.get(order=order).status == PendingAward.Status.VOID
