"""The safety net under the order task: no placed order goes without its award.

The checkout only queues each order's task, and a message can be lost: the
broker was down at checkout, no worker consumed the queue, a worker died
mid-task. This periodic job takes up every order of a signed-in customer
placed more than ``RECONCILE_AFTER_MINUTES`` ago that has no award and does
what its task would have done. Every order the task handles leaves an award
(a void one of 0 points when it earns nothing, see
``awards.record_nothing``), so each order is taken up once at most.

It looks back ``RECONCILE_DAYS`` at most, and never before the plugin was
installed (its first migration): older orders are the backfill's.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Exists, OuterRef
from django.utils import timezone
from oscar.core.loading import get_model

from . import orders
from .conf import loyalty_settings
from .models import PendingAward

logger = logging.getLogger(__name__)
Order = get_model("order", "Order")


def orders_without_award(now=None):
    """Orders the reconcile job would take up now, oldest first."""
    now = now or timezone.now()
    since = now - timedelta(days=loyalty_settings.RECONCILE_DAYS)
    installed = installed_at()
    if installed is not None:
        since = max(since, installed)
    until = now - timedelta(minutes=loyalty_settings.RECONCILE_AFTER_MINUTES)
    has_award = PendingAward.objects.filter(order=OuterRef("pk"), referral=None)
    return (
        Order.objects.filter(user__isnull=False, date_placed__gte=since, date_placed__lt=until)
        .exclude(Exists(has_award))
        .order_by("pk")
    )


def installed_at():
    """When the plugin's tables were created (None if the record is missing)."""
    return (
        MigrationRecorder.Migration.objects.filter(app="oscar_loyalty", name="0001_initial")
        .values_list("applied", flat=True)
        .first()
    )


def record_missing_awards(now=None) -> int:
    """Do each lost order task now. Returns how many orders were taken up.

    One transaction per order, holding its row lock as the task does; an
    order another process holds (its task running right now) is skipped.
    Running it again, or beside the task, records nothing twice.
    """
    numbers = []
    for pk in list(orders_without_award(now).values_list("pk", flat=True)):
        with transaction.atomic():
            order = Order.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if order is None or PendingAward.objects.filter(order=order, referral=None).exists():
                continue
            orders.placed(order)
            numbers.append(order.number)
    if numbers:
        logger.warning(
            "oscar_loyalty: reconcile recorded %d order(s) whose task was lost: %s",
            len(numbers),
            ", ".join(numbers[:20]) + (" ..." if len(numbers) > 20 else ""),
        )
    else:
        logger.info("oscar_loyalty: reconcile found no order without its award")
    return len(numbers)
