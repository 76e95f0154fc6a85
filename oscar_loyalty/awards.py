"""Pending awards: the points an order will earn once its return window passes.

Placing an order records a pending award; cancelling voids it; refunds prorate
it; once it matures a periodic job posts it to the ledger (``ledger.bulk``).
After maturity a cancellation or refund takes points back through
``ledger.clawback``. The pages read awards through ``order_points`` and
``pending_awards``.

Every function here changes awards only under a row lock, so signals and
tasks racing for the same order serialise. What a placed, cancelled or
refunded order means is decided in ``orders``; this module does the sums.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import F, Q, QuerySet, Sum, Window
from django.db.models.functions import Mod, RowNumber
from django.utils import timezone
from oscar.core.loading import get_model

from . import keys, ledger, reasons
from .conf import loyalty_settings
from .earning import EarningRule, get_earning_rule
from .ledger import bulk
from .models import Account, LedgerEntry, PendingAward

if TYPE_CHECKING:
    from oscar.apps.order.abstract_models import AbstractLine, AbstractOrder

logger = logging.getLogger(__name__)
Order = get_model("order", "Order")
PaymentEventQuantity = get_model("order", "PaymentEventQuantity")
Status = PendingAward.Status


def record_award(order: AbstractOrder) -> None:
    """Record what ``order`` will earn once the return window passes.

    Guests earn nothing; an order worth no points records nothing but the
    mark that it was handled (see ``record_nothing``). Recording twice records
    once (a plain insert that skips a conflict, no query spent on checking
    first). Units already refunded, while the order's task waited in the
    queue, are left out at once.
    """
    if order.user_id is None:
        return
    lines = list(order.lines.select_related("product"))
    fields = award_fields(get_earning_rule(), order, lines, refunded_quantities(lines))
    if fields is None:
        record_nothing(order)
    else:
        _save_award(order, fields)


def record_nothing(order: AbstractOrder) -> None:
    """Mark ``order`` handled though it earns nothing: a void award of 0 points.

    The reconcile job takes up orders that have no award; this mark keeps it
    from taking up, again and again, those worth no points or cancelled
    before their task ran.
    """
    if order.user_id is None:
        return
    fields = {"points": 0, "original_points": 0, "status": Status.VOID}
    _save_award(order, {**fields, "matures_at": order.date_placed or timezone.now()})


def _save_award(order: AbstractOrder, fields: dict[str, Any]) -> None:
    account, _created = Account.objects.get_or_create(user_id=order.user_id)
    PendingAward.objects.bulk_create(
        [PendingAward(order=order, account=account, **fields)], ignore_conflicts=True
    )


def award_fields(
    rule: EarningRule,
    order: AbstractOrder,
    lines: list[AbstractLine] | None = None,
    refunded: dict[int, int] | None = None,
) -> dict[str, Any] | None:
    """The pending award's fields for ``order`` (None if it earns nothing).

    ``refunded`` (units by line id, with ``lines`` given) prorates it at once:
    the backfill uses it for old orders that were partly refunded.
    """
    if lines is None:
        lines = list(order.lines.select_related("product"))
    points, values = rule.order_points(order, lines)
    if points <= 0:
        return None
    line_values = {k: str(v) for k, v in values.items()}
    fields: dict[str, Any] = {
        "points": points,
        "original_points": points,
        "line_values": line_values,
        "matures_at": (order.date_placed or timezone.now())
        + timedelta(days=loyalty_settings.RETURN_WINDOW_DAYS),
    }
    if refunded:
        quantities = {line.pk: line.quantity for line in lines}
        fields["points"] = prorated_points(line_values, points, quantities, refunded)
        if fields["points"] == 0:
            return None
    return fields


def cancel_award(order: AbstractOrder) -> None:
    """The order was cancelled: it earns nothing, for its customer or their referrer."""
    _reduce_awards(order, lambda award: 0)


def void_pending_awards(account: Account) -> int:
    """The account's awards still in their return window will never be earned."""
    return PendingAward.objects.filter(account=account, status=Status.PENDING).update(
        status=Status.VOID
    )


def recompute_award(order: AbstractOrder) -> None:
    """Lines were refunded or returned: the award shrinks in proportion.

    A referrer's award replays what qualified the order when it was placed:
    it is voided only if the refunds take that total below the minimum then
    in force.
    """
    lines = list(order.lines.all())
    quantities = {line.pk: line.quantity for line in lines}
    refunded = refunded_quantities(lines)

    def target(award: PendingAward) -> int:
        if award.referral_id is None:
            return prorated_points(award.line_values, award.original_points, quantities, refunded)
        return award.points if referral_still_qualifies(award, quantities, refunded) else 0

    _reduce_awards(order, target)


def referral_still_qualifies(
    award: PendingAward, quantities: dict[int, int], refunded: dict[int, int]
) -> bool:
    """Whether the friend's order, less its refunded units, still reaches its minimum.

    Awards recorded before the qualifying total was stored fall back on the
    order's total and today's minimum.
    """
    total = award.qualifying_total
    if total is None:
        total = award.order.total_incl_tax
    minimum = award.minimum_order
    if minimum is None:
        minimum = loyalty_settings.REFERRAL_MIN_ORDER
    paid = sum((Fraction(Decimal(v)) for v in award.line_values.values()), Fraction(0))
    returned = paid - kept_value(award.line_values, quantities, refunded)
    return Fraction(total) - returned >= Fraction(minimum)


def refunded_quantities(lines: Iterable[AbstractLine]) -> dict[int, int]:
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


def prorated_points(
    line_values: dict[str, str],
    original_points: int,
    quantities: dict[int, int],
    refunded: dict[int, int],
) -> int:
    """``original_points`` scaled by the share of the value kept, rounded down once.

    ``quantities`` and ``refunded`` are units by line id. The share is an exact
    fraction: a rounded division before the floor would lose a point whenever
    the exact result is a whole number.
    """
    total = sum((Fraction(Decimal(v)) for v in line_values.values()), Fraction(0))
    if total <= 0:
        return 0
    return math.floor(original_points * kept_value(line_values, quantities, refunded) / total)


def kept_value(
    line_values: dict[str, str], quantities: dict[int, int], refunded: dict[int, int]
) -> Fraction:
    """What the order's lines are worth once ``refunded`` units are taken out, exactly."""
    return sum(
        (
            Fraction(Decimal(value))
            * (quantities[int(pk)] - refunded.get(int(pk), 0))
            / quantities[int(pk)]
            for pk, value in line_values.items()
            if quantities.get(int(pk))
        ),
        Fraction(0),
    )


def _reduce_awards(order: AbstractOrder, target_points: Callable[[PendingAward], int]) -> None:
    """Lower the order's awards to ``target_points(award)``, taking back what was earned.

    The order's row is locked first, as the order's queued task locks it: a
    refund saved while the task runs waits for the award the task records,
    instead of finding none and being lost.
    """
    with transaction.atomic():
        Order.objects.select_for_update().filter(pk=order.pk).first()
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


def take_back(award: PendingAward, target: int) -> None:
    """Claw back the ``award.points - target`` points this change takes away, once.

    ``award.points`` records what earlier refunds already settled, so each
    refund takes its own share: what the balance could not cover then waits
    on the customer's spends that may give points back (``ledger.clawback``),
    or is forgiven; it is never collected by a later signal for the same
    refund.
    """
    taken = award.points - target
    earned = LedgerEntry.objects.filter(idempotency_key=award.key).first()
    if taken > 0 and earned is not None:  # earned with 0 points: nothing to take back
        number = award.order.number
        ledger.clawback(
            earned.account_id,
            taken,
            key=keys.clawback(award.key, target),
            reason=(
                reasons.order(number, reasons.ORDER_REFUNDED)
                if award.referral_id is None
                else reasons.Reason(reasons.FRIEND_REFUNDED)
            ),
            order=award.order if award.referral_id is None else None,
            reverses=earned,
        )
    award.points = target
    award.save(update_fields=["points"])


def mature_due_awards(
    now: datetime | None = None,
    chunk_size: int | None = None,
    after: bulk.Position | None = None,
    until: bulk.Position | None = None,
) -> int:
    """Post every award whose return window has passed. Returns entries posted.

    ``after`` and ``until`` (a range from ``due_ranges``) keep the run to the
    awards between them, in (``matures_at``, id) order: one task's share of
    the fanned-out job.

    One transaction per chunk; awards another run has locked are skipped, so
    two runs at once share the work and neither posts anything twice (an award
    skipped because the other run's chunk failed waits for the next run).
    Each chunk starts after the last one (keyset), so a run never re-reads
    what it has done, whatever else holds old snapshots open.
    """
    now = now or timezone.now()
    chunk_size = chunk_size or loyalty_settings.TASK_CHUNK_SIZE
    posted = 0
    while True:
        with transaction.atomic():
            n, after = bulk.earn_due_awards(now, chunk_size, after, until)
        if after is None:
            return posted
        posted += n


def due_ranges(now: datetime, size: int) -> list[tuple[bulk.Position | None, bulk.Position | None]]:
    """The due awards cut into ranges of ``size``, as ``(after, until)`` pairs.

    The periodic job queues one task a range, so that every worker takes a
    share (``tasks.mature_awards``). One read of the due awards' index; the
    last range is open-ended, so awards due by the time it runs are taken too.
    An award recorded meanwhile in an earlier range (a backfill) waits for
    the next run; nothing is ever posted twice, whoever runs what.
    """
    due = PendingAward.objects.filter(status=Status.PENDING, matures_at__lte=now)
    if not due.exists():
        return []
    ends = list(
        due.annotate(n=Window(RowNumber(), order_by=[F("matures_at").asc(), F("id").asc()]))
        .annotate(r=Mod(F("n"), size))
        .filter(r=0)
        .order_by("matures_at", "id")
        .values_list("matures_at", "id")
    )
    starts: list[bulk.Position | None] = [None, *ends]
    return [(start, end) for start, end in zip(starts, [*ends, None], strict=True)]


def order_points(order: AbstractOrder) -> PendingAward | None:
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


def pending_awards(account: Account) -> QuerySet[PendingAward]:
    """The account's awards still in their return window, soonest first."""
    return (
        PendingAward.objects.filter(account=account, status=Status.PENDING, points__gt=0)
        .select_related("order")
        .order_by("matures_at", F("id"))
    )
