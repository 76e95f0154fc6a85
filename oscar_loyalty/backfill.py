"""Backfill: awards for orders placed before the plugin was installed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db.models import Exists, OuterRef
from oscar.core.loading import get_model

from .awards import award_fields, refunded_quantities
from .conf import loyalty_settings
from .earning import get_earning_rule
from .models import Account, PendingAward

Order = get_model("order", "Order")
Line = get_model("order", "Line")


def backfill(
    since: datetime,
    until: datetime | None = None,
    chunk_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Record awards for orders placed before the plugin was installed.

    Orders of signed-in customers placed from ``since`` (to ``until``) that
    have no award get one, dated from when they were placed, so their return
    window is respected; those already due mature at the next task run.
    Cancelled orders and refunded units earn nothing. Works in chunks of
    ``chunk_size`` orders with a fixed number of queries each; running it
    again records nothing twice. ``progress(done, total)`` is called per chunk.
    Returns the number of awards recorded.
    """
    chunk_size = chunk_size or loyalty_settings.TASK_CHUNK_SIZE
    has_award = PendingAward.objects.filter(order=OuterRef("pk"), referral=None)
    orders = (
        Order.objects.filter(user__isnull=False, date_placed__gte=since)
        .exclude(Exists(has_award))
        .exclude(status__in=loyalty_settings.CANCELLED_ORDER_STATUSES)
        .order_by("pk")
    )
    if until is not None:
        orders = orders.filter(date_placed__lt=until)
    total = orders.count()
    rule = get_earning_rule()
    recorded = done = last_pk = 0
    while True:
        chunk = list(orders.filter(pk__gt=last_pk)[:chunk_size])
        if not chunk:
            return recorded
        last_pk = chunk[-1].pk
        account_ids = _account_ids({order.user_id for order in chunk})
        # The chunk's lines in one query, grouped here (a prefetch costs a queryset per order).
        all_lines = list(
            Line.objects.filter(order_id__in=[order.pk for order in chunk])
            .select_related("product")
            .order_by("pk")
        )
        lines_of = {}
        for line in all_lines:
            lines_of.setdefault(line.order_id, []).append(line)
        refunded = refunded_quantities(all_lines)
        awards = []
        for order in chunk:
            lines = lines_of.get(order.pk, [])
            for line in lines:
                line.order = order  # a rule may read it; no query per line
            fields = award_fields(rule, order, lines, refunded)
            if fields is not None:
                awards.append(
                    PendingAward(order=order, account_id=account_ids[order.user_id], **fields)
                )
        recorded += len(PendingAward.objects.bulk_create(awards, ignore_conflicts=True))
        done += len(chunk)
        if progress:
            progress(min(done, total), total)


def _account_ids(user_ids: set[int]) -> dict[int, int]:
    """Account ids by user id, creating the missing accounts (two statements more)."""
    found = dict(Account.objects.filter(user_id__in=user_ids).values_list("user_id", "pk"))
    missing = [pk for pk in user_ids if pk not in found]
    if missing:
        Account.objects.bulk_create([Account(user_id=pk) for pk in missing], ignore_conflicts=True)
        found.update(Account.objects.filter(user_id__in=missing).values_list("user_id", "pk"))
    return found
