"""Backfill: awards for orders placed before the plugin was installed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from oscar.core.loading import get_model

from .awards import award_fields, refunded_quantities
from .conf import loyalty_settings
from .earning import EarningRule, get_earning_rule
from .models import Account, PendingAward

Order = get_model("order", "Order")
Line = get_model("order", "Line")
PaymentEventType = get_model("order", "PaymentEventType")
PaymentEventQuantity = get_model("order", "PaymentEventQuantity")


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
    orders = Order.objects.filter(user__isnull=False, date_placed__gte=since).exclude(
        status__in=loyalty_settings.CANCELLED_ORDER_STATUSES
    )
    if until is not None:
        orders = orders.filter(date_placed__lt=until)
    has_award = PendingAward.objects.filter(order=OuterRef("pk"), referral=None)
    total = orders.exclude(Exists(has_award)).count()
    rule = get_earning_rule()
    refund_types = _refund_event_types()
    recorded = done = last_pk = 0
    while True:
        # The awards' side bounded too, or PostgreSQL's merge anti-join walks
        # the awards of every chunk done before: a run quadratic in orders.
        chunk = list(
            orders.filter(pk__gt=last_pk)
            .exclude(Exists(has_award.filter(order_id__gt=last_pk)))
            .order_by("pk")
            .values_list("pk", "user_id")[:chunk_size]
        )
        if not chunk:
            return recorded
        last_pk = chunk[-1][0]
        order_ids = [pk for pk, _user_id in chunk]
        in_python = _with_refunds(order_ids, refund_types)
        with transaction.atomic():  # one commit a chunk
            form = rule.orders_sql([pk for pk in order_ids if pk not in in_python])
            if form is None:
                in_python = set(order_ids)
            else:
                _relaxed_commit()
                _create_accounts(order_ids)
                recorded += _record_in_sql(form)
            if in_python:
                users = {user_id for pk, user_id in chunk if pk in in_python}
                recorded += _record_in_python(rule, sorted(in_python), _account_ids(users))
        done += len(chunk)
        if progress:
            progress(min(done, total), total)


def _refund_event_types() -> list[int]:
    """The ids of the payment event types that record refunds (a few rows)."""
    types = Q(pk__in=[])
    for name in loyalty_settings.REFUND_EVENT_TYPES:
        types |= Q(name__iexact=name) | Q(code__iexact=name)
    return list(PaymentEventType.objects.filter(types).values_list("pk", flat=True))


def _with_refunds(order_ids: list[int], refund_types: list[int]) -> set[int]:
    """Those of these orders with a line refunded (by status or a refund payment event).

    Prorating them needs exact fractions: they go through ``award_fields``.
    """
    refunded = Q(status__in=loyalty_settings.REFUNDED_LINE_STATUSES)
    if refund_types:
        events = PaymentEventQuantity.objects.filter(
            line=OuterRef("pk"), event__event_type_id__in=refund_types
        )
        refunded |= Q(Exists(events))
    return set(
        Line.objects.filter(refunded, order_id__in=order_ids)
        .order_by()
        .values_list("order_id", flat=True)
        .distinct()
    )


def _relaxed_commit() -> None:
    """Commit this chunk without waiting for the disk (PostgreSQL).

    A backfill is run again at will and records nothing twice, so a crash
    that loses its last chunks loses nothing a second run would not record;
    waiting for each chunk's flush would cost more than the chunk's work.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _create_accounts(order_ids: list[int]) -> None:
    """The accounts of these orders' customers that are missing, in one statement."""
    qn = connection.ops.quote_name
    insert, conflict = (
        ("INSERT IGNORE INTO", "")
        if connection.vendor == "mysql"
        else ("INSERT INTO", "ON CONFLICT DO NOTHING")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            {insert} {qn(Account._meta.db_table)} (user_id, balance, created_at)
            SELECT DISTINCT o.user_id, 0, %s FROM {qn(Order._meta.db_table)} o
            WHERE o.id IN ({", ".join(["%s"] * len(order_ids))})
              AND NOT EXISTS (SELECT 1 FROM {qn(Account._meta.db_table)} a
                              WHERE a.user_id = o.user_id)
            {conflict}
            """,
            [connection.ops.adapt_datetimefield_value(timezone.now()), *order_ids],
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
