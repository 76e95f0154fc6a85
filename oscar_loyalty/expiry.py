"""Expiry of earned points: the periodic job, and what the Rewards page warns about.

Which points are over is the configured policy's call (``EXPIRY_POLICY``:
lots expire on a date, or everything after months of inactivity); the
expiry entries are posted set-based by ``ledger.bulk.expire_lots``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from . import reasons
from .conf import loyalty_settings
from .ledger import bulk
from .models import Account, PointsLot


def expire_due_points(now: datetime | None = None, chunk_size: int | None = None) -> int:
    """Post the expiry of every lot the policy says is over. Returns entries posted."""
    now = now or timezone.now()
    chunk_size = chunk_size or loyalty_settings.TASK_CHUNK_SIZE
    due = _expired_lots(now)
    if due is None:
        return 0
    reason = reasons.Reason(reasons.EXPIRED)
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


def expiring_soon(account: Account, days: int = 30, now: datetime | None = None) -> list[tuple]:
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
