"""The return window: an order's points wait as a pending award until it passes.

Placing an order records a pending award; cancelling voids it; refunds prorate
it; once it matures a periodic task posts it to the ledger. After maturity a
cancellation or refund takes points back through ``ledger.clawback``.
Expiry of earned points lives here too, as the other periodic job.

Every function here reads and writes awards only under a row lock, so signals
and tasks racing for the same order serialise.
"""

import logging
from datetime import timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_model

from . import keys, ledger
from .conf import loyalty_settings
from .earning import get_earning_rule
from .ledger import bulk
from .models import Account, LedgerEntry, PendingAward, PointsLot

logger = logging.getLogger(__name__)
Order = get_model("order", "Order")
Line = get_model("order", "Line")
PaymentEventQuantity = get_model("order", "PaymentEventQuantity")
Status = PendingAward.Status


def record_award(order) -> None:
    """Record what ``order`` will earn once the return window passes.

    Guests earn nothing; an order worth no points records nothing. Recording
    twice records once (a plain insert that skips a conflict, no query spent
    on checking first). Units already refunded, while the order's task waited
    in the queue, are left out at once.
    """
    if order.user_id is None:
        return
    lines = list(order.lines.select_related("product"))
    fields = award_fields(get_earning_rule(), order, lines, refunded_quantities(lines))
    if fields is None:
        return
    account, _created = Account.objects.get_or_create(user_id=order.user_id)
    PendingAward.objects.bulk_create(
        [PendingAward(order=order, account=account, **fields)], ignore_conflicts=True
    )


def award_fields(rule, order, lines=None, refunded=None) -> dict | None:
    """The pending award's fields for ``order`` (None if it earns nothing).

    ``refunded`` (units by line id, with ``lines`` given) prorates it at once:
    the backfill uses it for old orders that were partly refunded.
    """
    values = rule.line_values(order, lines)
    points = rule.points(order.currency, sum(values.values(), Decimal(0)))
    if points <= 0:
        return None
    fields = {
        "points": points,
        "original_points": points,
        "line_values": {k: str(v) for k, v in values.items()},
        "matures_at": (order.date_placed or timezone.now())
        + timedelta(days=loyalty_settings.RETURN_WINDOW_DAYS),
    }
    if refunded:
        quantities = {line.pk: line.quantity for line in lines}
        fields["points"] = prorated_points(fields["line_values"], points, quantities, refunded)
        if fields["points"] == 0:
            return None
    return fields


def cancel_award(order) -> None:
    """The order was cancelled: it earns nothing, for its customer or their referrer."""
    _reduce_awards(order, lambda award: 0)


def recompute_award(order) -> None:
    """Lines were refunded or returned: the award shrinks in proportion."""
    lines = list(order.lines.all())
    quantities = {line.pk: line.quantity for line in lines}
    refunded = refunded_quantities(lines)

    def target(award):
        if award.referral_id is None:
            return prorated_points(award.line_values, award.original_points, quantities, refunded)
        kept = kept_value(award.line_values, quantities, refunded)
        return award.points if kept >= loyalty_settings.REFERRAL_MIN_ORDER else 0

    _reduce_awards(order, target)


def refunded_quantities(lines) -> dict[int, int]:
    """How many units of each of these order lines came back, by line id.

    Two things Oscar records count: a line whose status is one of
    ``REFUNDED_LINE_STATUSES`` (all its units), and payment events whose type is
    one of ``REFUND_EVENT_TYPES`` (the quantities they list). A line counts at
    most its quantity.
    """
    statuses = set(loyalty_settings.REFUNDED_LINE_STATUSES)
    is_refund = Q(pk__in=[])
    for name in loyalty_settings.REFUND_EVENT_TYPES:
        is_refund |= Q(event__event_type__name__iexact=name)
        is_refund |= Q(event__event_type__code__iexact=name)
    by_event = dict(
        PaymentEventQuantity.objects.filter(is_refund, line__in=[line.pk for line in lines])
        .values_list("line_id")
        .annotate(n=Sum("quantity"))
        .values_list("line_id", "n")
    )
    result = {}
    for line in lines:
        n = line.quantity if line.status in statuses else by_event.get(line.pk, 0)
        if n:
            result[line.pk] = min(n, line.quantity)
    return result


def prorated_points(line_values, original_points, quantities, refunded) -> int:
    """``original_points`` scaled by the share of the value kept, rounded down.

    ``quantities`` and ``refunded`` are units by line id.
    """
    total = sum((Decimal(v) for v in line_values.values()), Decimal(0))
    if total <= 0:
        return 0
    return int(original_points * kept_value(line_values, quantities, refunded) / total)


def kept_value(line_values, quantities, refunded) -> Decimal:
    """What the order's lines are worth once ``refunded`` units are taken out."""
    return sum(
        (
            Decimal(value) * (quantities[int(pk)] - refunded.get(int(pk), 0)) / quantities[int(pk)]
            for pk, value in line_values.items()
            if quantities.get(int(pk))
        ),
        Decimal(0),
    )


def _reduce_awards(order, target_points) -> None:
    """Lower the order's awards to ``target_points(award)``, taking back what was earned."""
    with transaction.atomic():
        awards = (
            PendingAward.objects.select_for_update()
            .filter(order=order)
            .exclude(status=Status.VOID)
            .select_related("order")
            .order_by("pk")
        )
        for award in awards:
            target = min(target_points(award), award.points)
            if award.status == Status.PENDING:
                award.points = target
                if target == 0:
                    award.status = Status.VOID
                award.save(update_fields=["points", "status"])
            else:
                take_back(award, target)


def take_back(award, target) -> None:
    """Claw back what ``award`` earned above ``target`` points (at most its balance)."""
    earned = LedgerEntry.objects.filter(idempotency_key=award.key).first()
    if earned is None:  # earned with 0 points: nothing to take back
        return
    clawed = earned.reversals.filter(kind=LedgerEntry.Kind.CLAWBACK).aggregate(s=Sum("points"))
    kept = earned.points + (clawed["s"] or 0)
    if kept > target:
        number = award.order.number
        ledger.clawback(
            earned.account_id,
            kept - target,
            key=keys.clawback(award.key, target),
            reason=(
                _("Order %(number)s refunded") % {"number": number}
                if award.referral_id is None
                else _("Your friend's order was refunded")
            ),
            order=award.order if award.referral_id is None else None,
            reverses=earned,
        )
    award.points = target
    award.save(update_fields=["points"])


# Backfill --------------------------------------------------------------------


def backfill(since, until=None, chunk_size=None, progress=None) -> int:
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


def _account_ids(user_ids) -> dict[int, int]:
    """Account ids by user id, creating the missing accounts (two statements more)."""
    found = dict(Account.objects.filter(user_id__in=user_ids).values_list("user_id", "pk"))
    missing = [pk for pk in user_ids if pk not in found]
    if missing:
        Account.objects.bulk_create([Account(user_id=pk) for pk in missing], ignore_conflicts=True)
        found.update(Account.objects.filter(user_id__in=missing).values_list("user_id", "pk"))
    return found


# The periodic jobs -----------------------------------------------------------


def mature_due_awards(now=None, chunk_size=None) -> int:
    """Post every award whose return window has passed. Returns entries posted.

    One transaction per chunk; awards another run has locked are skipped, so
    two runs at once share the work and neither posts anything twice (an award
    skipped because the other run's chunk failed waits for the next run).
    Each chunk starts after the last one (keyset), so a run never re-reads
    what it has done, whatever else holds old snapshots open.
    """
    now = now or timezone.now()
    chunk_size = chunk_size or loyalty_settings.TASK_CHUNK_SIZE
    posted, after = 0, None
    while True:
        with transaction.atomic():
            n, after = bulk.earn_due_awards(now, chunk_size, after)
        if after is None:
            return posted
        posted += n


def expire_due_points(now=None, chunk_size=None) -> int:
    """Post the expiry of every lot the policy says is over. Returns entries posted."""
    now = now or timezone.now()
    chunk_size = chunk_size or loyalty_settings.TASK_CHUNK_SIZE
    due = _expired_lots(now)
    if due is None:
        return 0
    reason = _("Expired")
    posted = 0
    while True:
        with transaction.atomic():
            ids = list(due.order_by("id").values_list("id", flat=True)[:chunk_size])
            n = bulk.expire_lots(ids, now, reason) if ids else 0
        if n == 0:
            return posted
        posted += n


def _expired_lots(now):
    policy = loyalty_settings.EXPIRY_POLICY
    lots = PointsLot.objects.filter(remaining__gt=0)
    if policy == "lifetime":
        return lots.filter(expires_at__lte=now)
    if policy == "inactivity":
        idle_since = now - relativedelta(months=loyalty_settings.EXPIRY_MONTHS)
        return lots.annotate(
            active_at=Coalesce("account__last_activity_at", "account__created_at")
        ).filter(active_at__lte=idle_since)
    return None


def expiring_soon(account, days=30, now=None) -> list[tuple]:
    """[(date, points)] that expire within ``days``, soonest first."""
    now = now or timezone.now()
    until = now + timedelta(days=days)
    policy = loyalty_settings.EXPIRY_POLICY
    if policy == "lifetime":
        return list(
            PointsLot.objects.filter(
                account=account, remaining__gt=0, expires_at__gt=now, expires_at__lte=until
            )
            .annotate(day=TruncDate("expires_at"))
            .values_list("day")
            .annotate(points=Sum("remaining"))
            .order_by("day")
        )
    if policy == "inactivity" and account.balance > 0:
        active_at = account.last_activity_at or account.created_at
        at = active_at + relativedelta(months=loyalty_settings.EXPIRY_MONTHS)
        if now < at <= until:
            return [(at.date(), account.balance)]
    return []


def order_points(order) -> PendingAward | None:
    """What ``order`` will earn, for its confirmation page: its pending award.

    The award is recorded by a queued task, usually a moment after the order:
    until then it is worked out the same way, unsaved. None when the order
    earns nothing (a guest's, or one worth no points) or is no longer pending.
    """
    if order.user_id is None:
        return None
    award = PendingAward.objects.filter(order=order, referral=None).first()
    if award is None:
        fields = award_fields(get_earning_rule(), order)
        return PendingAward(order=order, **fields) if fields else None
    return award if award.status == Status.PENDING and award.points > 0 else None


def pending_awards(account):
    """The account's awards still in their return window, soonest first."""
    return (
        PendingAward.objects.filter(account=account, status=Status.PENDING, points__gt=0)
        .select_related("order")
        .order_by("matures_at", F("id"))
    )
