"""Celery tasks: thin wrappers; the work is in ``orders``, ``awards``, ``expiry`` and
``redemption``. Never imports ``receivers`` (which queues these).

Each is safe to run twice at once or to be redelivered.
"""

from celery import shared_task
from django.db import transaction
from oscar.core.loading import get_model

from . import awards, expiry, orders, redemption

Order = get_model("order", "Order")


@shared_task(
    name="oscar_loyalty.order_placed",
    bind=True,
    ignore_result=True,
    max_retries=6,
    default_retry_delay=10,
)
def order_placed(self, order_id):
    """Record a placed order's award, used vouchers and referral.

    A store that places orders inside a larger transaction (``ATOMIC_REQUESTS``)
    may queue this before its order is committed: not found yet, it retries.
    The order's row is locked while the steps run, so a cancellation saved at
    the same moment either comes first (and is seen here) or waits for the
    award, then voids it.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).filter(pk=order_id).first()
        if order is None:
            raise self.retry()
        orders.placed(order)


@shared_task(name="oscar_loyalty.mature_awards", ignore_result=True)
def mature_awards():
    return awards.mature_due_awards()


@shared_task(name="oscar_loyalty.expire_points", ignore_result=True)
def expire_points():
    return expiry.expire_due_points()


@shared_task(name="oscar_loyalty.restore_unused_redemptions", ignore_result=True)
def restore_unused_redemptions():
    return redemption.expire_unused()
