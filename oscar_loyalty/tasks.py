"""Celery tasks: thin wrappers; the work is in ``orders``, ``awards``, ``expiry``,
``redemption``, ``reconcile`` and ``kpis``. Never imports ``receivers`` (which queues these).

Each is safe to run twice at once or to be redelivered.
"""

import logging

from celery import shared_task
from django.db import transaction
from kombu.pools import producers
from oscar.core.loading import get_model

from . import awards, expiry, kpis, orders, reconcile, redemption
from .conf import loyalty_settings

logger = logging.getLogger(__name__)
Order = get_model("order", "Order")


@shared_task(
    name="oscar_loyalty.order_placed",
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=6,
    default_retry_delay=10,
)
def order_placed(self, order_id):
    """Record a placed order's award, used vouchers and referral.

    Acknowledged once done (``acks_late``), so a worker that dies on it hands
    it to another: running it again records nothing twice. The order is
    queued once committed; a replica that lags may not see it yet, so it
    retries. The order's row is locked while the steps run, so a
    cancellation saved at the same moment either comes first (and is seen
    here) or waits for the award, then voids it.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise self.retry()
        orders.placed(order)


def queue_order_placed(order_id, number):
    """Queue ``order_placed`` for an order without ever holding up its checkout.

    One try, through a connection that waits ``QUEUE_TIMEOUT`` seconds at most
    (Celery's own publishing retries for seconds when the broker is down). On
    failure: one log line, and the reconcile job records the order later.
    """
    task = order_placed
    try:
        if task.app.conf.task_always_eager:
            task.delay(order_id)
            return
        timeout = loyalty_settings.QUEUE_TIMEOUT
        connection = task.app.connection_for_write(
            connect_timeout=timeout,
            transport_options={"max_retries": 0, "socket_connect_timeout": timeout},
        )
        with producers[connection].acquire(block=True, timeout=timeout) as producer:
            task.apply_async((order_id,), producer=producer, retry=False)
    except Exception as exc:
        logger.warning(
            "oscar_loyalty: order %s not queued (%s: %s); the reconcile job will record it",
            number,
            type(exc).__name__,
            exc,
        )


@shared_task(name="oscar_loyalty.mature_awards", ignore_result=True)
def mature_awards():
    return awards.mature_due_awards()


@shared_task(name="oscar_loyalty.expire_points", ignore_result=True)
def expire_points():
    return expiry.expire_due_points()


@shared_task(name="oscar_loyalty.restore_unused_redemptions", ignore_result=True)
def restore_unused_redemptions():
    return redemption.expire_unused()


@shared_task(name="oscar_loyalty.reconcile_orders", ignore_result=True)
def reconcile_orders():
    return reconcile.record_missing_awards()


@shared_task(name="oscar_loyalty.store_daily_figures", ignore_result=True)
def store_daily_figures():
    return kpis.store_daily_figures()
