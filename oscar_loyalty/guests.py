"""A guest's earlier orders, credited once they sign up and verify the same address.

When a customer verifies an email address (django-allauth's ``email_confirmed``),
the guest orders placed with any spelling of it (``referrals.normalise_email``,
as the fraud checks compare addresses) become pending awards of theirs, as if
they had been signed in: the same earning rule, the same return window from
the day the order was placed. An order already past its window earns at once.

Each order is claimed once (``GuestOrderCredit``, unique per order), so
verifying again, or a second account with the same normalised address, earns
nothing more. Cancelled orders earn nothing; units refunded before are left
out. Later refunds and cancellations of a credited order take back its
points as for any order (``awards``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from oscar.core.loading import get_model

from . import awards, referrals
from .conf import loyalty_settings
from .earning import get_earning_rule
from .ledger import bulk
from .models import Account, GuestOrderCredit, PendingAward

logger = logging.getLogger(__name__)
Order = get_model("order", "Order")


def credit_guest_orders(user, email: str, now: datetime | None = None) -> list[PendingAward]:
    """Credit ``user`` with the guest orders placed with ``email`` (verified by them).

    Returns the awards recorded. Safe to call again, or for two accounts at
    once: an order another call claimed is skipped.
    """
    if user is None or user.pk is None or not user.is_active:
        return []
    now = now or timezone.now()
    recorded = []
    rule = get_earning_rule()
    for order_id in referrals.guest_order_ids(email):
        try:
            with transaction.atomic():
                award = _credit(user, order_id, rule, now)
        except IntegrityError:  # claimed by another call at this very moment
            continue
        if award is not None:
            recorded.append(award)
    if recorded:
        with transaction.atomic():
            due = [a.pk for a in recorded if a.matures_at <= now]
            bulk.earn_awards(due, now)
    return recorded


def _credit(user, order_id: int, rule, now: datetime) -> PendingAward | None:
    # The order's row lock serialises this with its refunds and cancellations.
    order = Order.objects.select_for_update().filter(pk=order_id, user=None).first()
    if order is None or GuestOrderCredit.objects.filter(order=order).exists():
        return None
    GuestOrderCredit.objects.create(order=order, user=user, created_at=now)
    if order.status in loyalty_settings.CANCELLED_ORDER_STATUSES:
        return None
    lines = list(order.lines.select_related("product"))
    fields = awards.award_fields(rule, order, lines, awards.refunded_quantities(lines))
    if fields is None:
        return None
    account, _created = Account.objects.get_or_create(user_id=user.pk)
    return PendingAward.objects.create(order=order, account=account, created_at=now, **fields)
