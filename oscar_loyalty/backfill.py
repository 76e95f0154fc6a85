"""Backfill: awards for orders placed before the plugin was installed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
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
    in_sql = rule.has_set_based_form()
    one_statement = in_sql and connection.vendor == "postgresql"
    recorded = done = last_pk = 0
    with _relaxed_commits(one_statement):
        while True:
            # The awards' side bounded too, or PostgreSQL's merge anti-join walks
            # the awards of every chunk done before: a run quadratic in orders.
            chunk_query = (
                orders.filter(pk__gt=last_pk)
                .exclude(Exists(has_award.filter(order_id__gt=last_pk)))
                .order_by("pk")
                .values_list("pk", "user_id")[:chunk_size]
            )
            if one_statement:
                chunk = _chunk_with_accounts(chunk_query)
            else:
                chunk = list(chunk_query)
            if not chunk:
                return recorded
            last_pk = chunk[-1][0]
            order_ids = [pk for pk, _user_id in chunk]
            if one_statement:
                n, in_python = _record_chunk_pg(rule, order_ids, refund_types)
                recorded += n
            else:
                in_python = _with_refunds(order_ids, refund_types) if in_sql else set(order_ids)
                with transaction.atomic():  # one commit a chunk
                    if in_sql:
                        _create_accounts(order_ids)
                        form = rule.orders_sql([pk for pk in order_ids if pk not in in_python])
                        recorded += _record_in_sql(form) if form else 0
            if in_python:
                users = {user_id for pk, user_id in chunk if pk in in_python}
                recorded += _record_in_python(rule, sorted(in_python), _account_ids(users))
            done += len(chunk)
            if progress:
                progress(min(done, total), total)


@contextmanager
def _relaxed_commits(relaxed: bool) -> Iterator[None]:
    """Commit without waiting for the disk, on PostgreSQL, while the backfill runs.

    A backfill is run again at will and records nothing twice, so a crash
    that loses its last chunks loses nothing a second run would not record;
    waiting for each chunk's flush would cost more than the chunk's work.
    """
    if not relaxed:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('synchronous_commit', 'off', false)")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _chunk_with_accounts(chunk_query: QuerySet) -> list[tuple[int, int]]:
    """The chunk's ``(order id, user id)``, creating its customers' missing accounts.

    One statement (PostgreSQL): the accounts are committed with it, so the
    next statement, recording the awards, finds them.
    """
    sql, params = chunk_query.query.sql_with_params()
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH chunk (id, user_id) AS MATERIALIZED ({sql}),
            accounts AS (
                INSERT INTO {qn(Account._meta.db_table)} (user_id, balance, created_at)
                SELECT DISTINCT c.user_id, 0, %s FROM chunk c
                WHERE NOT EXISTS (SELECT 1 FROM {qn(Account._meta.db_table)} a
                                  WHERE a.user_id = c.user_id)
                ON CONFLICT DO NOTHING
            )
            SELECT id, user_id FROM chunk ORDER BY id
            """,
            [*params, timezone.now()],
        )
        return cursor.fetchall()


def _record_chunk_pg(
    rule: EarningRule, order_ids: list[int], refund_types: list[int]
) -> tuple[int, set[int]]:
    """Record the chunk's awards in one statement; returns (recorded, orders with refunds).

    The orders with a refunded line are found in the same statement and left
    out, for ``award_fields`` to prorate exactly.
    """
    form = rule.orders_sql(order_ids)
    assert form is not None
    qn = connection.ops.quote_name
    line, quantity = qn(Line._meta.db_table), qn(PaymentEventQuantity._meta.db_table)
    event = qn(PaymentEventQuantity._meta.get_field("event").related_model._meta.db_table)
    statuses = list(loyalty_settings.REFUNDED_LINE_STATUSES) or [None]
    by_event = ""
    if refund_types:
        types = ", ".join(["%s"] * len(refund_types))
        by_event = f"""OR EXISTS (
            SELECT 1 FROM {quantity} q JOIN {event} e ON e.id = q.event_id
            WHERE q.line_id = l.id AND e.event_type_id IN ({types}))"""
    insert, insert_params = _insert_awards_sql(
        form, "v.order_id NOT IN (SELECT order_id FROM refunded)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH refunded AS MATERIALIZED (
                SELECT DISTINCT l.order_id FROM {line} l
                WHERE l.order_id IN ({", ".join(["%s"] * len(order_ids))})
                  AND (l.status IN ({", ".join(["%s"] * len(statuses))}) {by_event})
            ), inserted AS ({insert} RETURNING 1)
            SELECT (SELECT COUNT(*) FROM inserted), ARRAY(SELECT order_id FROM refunded)
            """,
            [*order_ids, *statuses, *refund_types, *insert_params],
        )
        n, refunded = cursor.fetchone()
    return n, set(refunded)


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


def _insert_awards_sql(form: tuple[str, list], where: str = "TRUE") -> tuple[str, list]:
    """The statement inserting the awards the rule's set-based form works out."""
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
    sql = f"""
        {insert} {award} (order_id, account_id, referral_id, points, original_points,
                          line_values, status, matures_at, created_at)
        SELECT v.order_id, acc.id, NULL, v.points, v.points, v.line_values, %s,
               {matures}, %s
        FROM ({rule_sql}) v JOIN {account} acc ON acc.user_id = v.user_id
        WHERE v.points > 0 AND {where}
        {conflict}
    """
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return sql, [PendingAward.Status.PENDING, seconds, now, *rule_params]


def _record_in_sql(form: tuple[str, list]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(*_insert_awards_sql(form))
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
