"""Backfill: awards for orders placed before the plugin was installed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from oscar.core.loading import get_model

from .awards import award_fields, refunded_quantities
from .conf import loyalty_settings
from .earning import EarningRule, get_earning_rule
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

    The default earning rule works out a chunk in one SQL statement (its
    set-based form, ``EarningRule.orders_sql``); orders with refunded lines,
    and every order under a store's own rule, go through the rule's Python
    methods one by one.
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
        chunk = list(orders.filter(pk__gt=last_pk).values_list("pk", "user_id")[:chunk_size])
        if not chunk:
            return recorded
        last_pk = chunk[-1][0]
        account_ids = _account_ids({user_id for _pk, user_id in chunk})
        order_ids = [pk for pk, _user_id in chunk]
        in_python = _with_refunds(order_ids)
        in_sql = [pk for pk in order_ids if pk not in in_python]
        form = rule.orders_sql(in_sql)
        if form is None:
            in_python = set(order_ids)
        else:
            recorded += _record_in_sql(form)
        if in_python:
            recorded += _record_in_python(rule, sorted(in_python), account_ids)
        done += len(chunk)
        if progress:
            progress(min(done, total), total)


def _with_refunds(order_ids: list[int]) -> set[int]:
    """Those of these orders with a line refunded (by status or refund payment event).

    Prorating them needs exact fractions: they go through ``award_fields``.
    """
    is_refund = Q(status__in=loyalty_settings.REFUNDED_LINE_STATUSES)
    for name in loyalty_settings.REFUND_EVENT_TYPES:
        is_refund |= Q(payment_event_quantities__event__event_type__name__iexact=name)
        is_refund |= Q(payment_event_quantities__event__event_type__code__iexact=name)
    return set(
        Line.objects.filter(is_refund, order_id__in=order_ids)
        .values_list("order_id", flat=True)
        .distinct()
    )


def _record_in_sql(form: tuple[str, list]) -> int:
    """Insert the awards the rule's set-based form works out, in one statement."""
    rule_sql, rule_params = form
    qn = connection.ops.quote_name
    award, account = qn(PendingAward._meta.db_table), qn(Account._meta.db_table)
    seconds = loyalty_settings.RETURN_WINDOW_DAYS * 24 * 3600
    if connection.vendor == "mysql":
        insert, conflict = "INSERT IGNORE INTO", ""
        matures = "DATE_ADD(v.date_placed, INTERVAL %s SECOND)"
    else:
        insert, conflict = "INSERT INTO", "ON CONFLICT DO NOTHING"
        matures = "v.date_placed + %s * INTERVAL '1 second'"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            {insert} {award} (order_id, account_id, referral_id, points, original_points,
                              line_values, status, matures_at, created_at)
            SELECT v.order_id, acc.id, NULL, v.points, v.points, v.line_values, %s,
                   {matures}, %s
            FROM ({rule_sql}) v JOIN {account} acc ON acc.user_id = v.user_id
            WHERE v.points > 0
            {conflict}
            """,
            [
                PendingAward.Status.PENDING,
                seconds,
                connection.ops.adapt_datetimefield_value(timezone.now()),
                *rule_params,
            ],
        )
        return cursor.rowcount


def _record_in_python(rule: EarningRule, order_ids: list[int], account_ids: dict[int, int]) -> int:
    """Work these orders out one by one with the rule's Python methods."""
    chunk = list(Order.objects.filter(pk__in=order_ids).order_by("pk"))
    # The chunk's lines in one query, grouped here (a prefetch costs a queryset per order).
    all_lines = list(
        Line.objects.filter(order_id__in=order_ids).select_related("product").order_by("pk")
    )
    lines_of: dict[int, list] = {}
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
    return len(PendingAward.objects.bulk_create(awards, ignore_conflicts=True))


def _account_ids(user_ids: set[int]) -> dict[int, int]:
    """Account ids by user id, creating the missing accounts (two statements more)."""
    found = dict(Account.objects.filter(user_id__in=user_ids).values_list("user_id", "pk"))
    missing = [pk for pk in user_ids if pk not in found]
    if missing:
        Account.objects.bulk_create([Account(user_id=pk) for pk in missing], ignore_conflicts=True)
        found.update(Account.objects.filter(user_id__in=missing).values_list("user_id", "pk"))
    return found
