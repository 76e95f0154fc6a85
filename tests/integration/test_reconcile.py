"""No award is lost: the task is queued on commit, never holds up a checkout, and
the reconcile job records any order whose task never ran."""

import logging
from datetime import timedelta
from decimal import Decimal as D

import pytest
import redis
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_model
from oscar.test.factories import create_order, create_product, create_stockrecord

from oscar_loyalty import reconcile, tasks
from oscar_loyalty.models import PendingAward
from oscar_loyalty.schedule import BEAT_SCHEDULE

pytestmark = pytest.mark.django_db
Basket = get_model("basket", "Basket")


@pytest.fixture
def lost(monkeypatch):
    """The broker takes each order's task and loses it."""
    queued = []
    monkeypatch.setattr("oscar_loyalty.tasks.order_placed.delay", queued.append)
    return queued


def later(minutes):
    return timezone.now() + timedelta(minutes=minutes)


def basket_of(user, price="120.00"):
    product = create_product(title=f"Product {price}")
    create_stockrecord(product, price=D(price), num_in_stock=10)
    basket = Basket.objects.create(owner=user)
    basket.strategy = Default()
    basket.add_product(product, 1)
    return basket


def test_an_order_whose_task_was_lost_is_recorded_after_the_delay(
    customer, place_order, lost, caplog
):
    order = place_order(customer, [("120.00", 1)])
    assert lost == [order.pk] and not PendingAward.objects.exists()
    assert reconcile.record_missing_awards(now=later(29)) == 0
    with caplog.at_level(logging.INFO, logger="oscar_loyalty"):
        assert reconcile.record_missing_awards(now=later(31)) == 1
    assert PendingAward.objects.get(order=order).points == 12
    assert f"reconcile recorded 1 order(s) whose task was lost: {order.number}" in caplog.text
    assert reconcile.record_missing_awards(now=later(31)) == 0  # idempotent
    tasks.order_placed.apply(args=lost, throw=True)  # the lost message turns up after all
    assert PendingAward.objects.get(order=order).points == 12


def test_an_order_worth_nothing_is_taken_up_once(customer, place_order, lost):
    order = place_order(customer, [("5.00", 1)])  # less than one point
    assert reconcile.record_missing_awards(now=later(31)) == 1
    mark = PendingAward.objects.get(order=order)
    assert (mark.points, mark.status) == (0, PendingAward.Status.VOID)
    assert reconcile.record_missing_awards(now=later(90)) == 0


def test_the_task_marks_an_order_worth_nothing_so_reconcile_skips_it(customer, place_order):
    order = place_order(customer, [("5.00", 1)])
    assert PendingAward.objects.get(order=order).points == 0
    assert reconcile.record_missing_awards(now=later(31)) == 0


def test_guests_and_orders_past_the_lookback_or_before_the_install_are_not_taken_up(
    customer, place_order, lost
):
    place_order(None)
    assert reconcile.record_missing_awards(now=later(31)) == 0
    order = place_order(customer)
    with override_settings(OSCAR_LOYALTY_RECONCILE_DAYS=1):
        assert reconcile.record_missing_awards(now=later(60 * 24 + 1)) == 0
    installed = reconcile.installed_at()
    assert installed is not None and installed < order.date_placed
    type(order).objects.filter(pk=order.pk).update(date_placed=installed - timedelta(minutes=1))
    assert reconcile.record_missing_awards(now=later(31)) == 0  # the backfill's, if wanted
    assert not PendingAward.objects.exists()


def test_a_cancelled_order_whose_task_was_lost_earns_nothing(customer, place_order, lost):
    order = place_order(customer)
    order.set_status("Cancelled")
    assert reconcile.record_missing_awards(now=later(31)) == 1
    assert PendingAward.objects.get(order=order).points == 0


def test_the_task_is_acknowledged_once_done_and_reconcile_runs_hourly():
    assert tasks.order_placed.acks_late and tasks.order_placed.reject_on_worker_lost
    entry = BEAT_SCHEDULE["oscar-loyalty-reconcile-orders"]
    assert entry["task"] == tasks.reconcile_orders.name


@pytest.mark.django_db(transaction=True)
def test_the_task_is_queued_when_the_stores_transaction_commits(customer, lost):
    """A store with ATOMIC_REQUESTS places its order inside the request's transaction."""
    with transaction.atomic():
        order = create_order(basket=basket_of(customer), user=customer)
        assert lost == []  # the worker could not see the order yet
    assert lost == [order.pk]
    with transaction.atomic():
        create_order(basket=basket_of(customer), user=customer)
        transaction.set_rollback(True)  # e.g. the payment failed afterwards
    assert lost == [order.pk]


@pytest.fixture
def broker_down(monkeypatch):
    """A real Celery publish to a port where nothing listens; counts the connection attempts."""
    app = tasks.order_placed.app
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setitem(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.conf, "broker_write_url", None)
    attempts = []
    connect = redis.connection.Connection._connect

    def counted(self):
        attempts.append(self.port)
        return connect(self)

    monkeypatch.setattr(redis.connection.Connection, "_connect", counted)
    return attempts


def test_with_the_broker_down_the_checkout_tries_once_logs_one_line_and_reconcile_records_it(
    customer, place_order, broker_down, caplog
):
    with caplog.at_level(logging.INFO):
        order = place_order(customer)
    assert broker_down == [1]  # one connection attempt, no retries
    records = [r for r in caplog.records if r.name.startswith("oscar_loyalty")]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert records[0].exc_info is None  # one line, no traceback
    assert f"order {order.number} not queued" in records[0].getMessage()
    assert not PendingAward.objects.exists()
    assert reconcile.record_missing_awards(now=later(31)) == 1
    assert PendingAward.objects.get(order=order).points == 10
