"""What a placed, cancelled or refunded order means for loyalty.

Receivers and tasks only decide *when*; this module decides *what*. Loyalty
must never break a checkout or an order update (rule 4 of the design): each
step runs in a savepoint and logs its errors instead of raising them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import transaction
from oscar.core.loading import get_class

from . import awards, redemption, referrals, tiers
from .conf import loyalty_settings

if TYPE_CHECKING:
    from oscar.apps.order.abstract_models import AbstractOrder, AbstractPaymentEvent

logger = logging.getLogger(__name__)
UnableToPlaceOrder = get_class("order.exceptions", "UnableToPlaceOrder")


def _safely(action: Callable[[AbstractOrder], object], order: AbstractOrder) -> None:
    try:
        with transaction.atomic():
            action(order)
    except Exception:
        logger.exception("oscar_loyalty: %s failed for order %s", action.__name__, order.number)


def placed(order: AbstractOrder) -> None:
    """What a placed order means for loyalty, in one transaction, each step in a savepoint.

    The order may have been cancelled while its task waited in the queue (the
    cancellation then found nothing to undo): it earns nothing, for its customer
    or a referrer, and the points vouchers it used are given back.
    """
    is_cancelled = order.status in loyalty_settings.CANCELLED_ORDER_STATUSES
    try:
        with transaction.atomic():
            _safely(awards.record_nothing if is_cancelled else awards.record_award, order)
            _safely(redemption.mark_used, order)
            if is_cancelled:
                _safely(redemption.restore_for_cancelled, order)
            else:
                _safely(referrals.first_order_placed, order)
    except Exception:
        logger.exception("oscar_loyalty: committing order %s's loyalty steps failed", order.number)


def discount_recorded(order: AbstractOrder, voucher_id: int) -> None:
    """Oscar is placing ``order`` with a discount from this voucher: a points voucher is used.

    Runs inside Oscar's ``place_order`` transaction. The one loyalty step that
    may stop an order, on purpose: if the voucher's points were given back
    after the checkout priced the basket, the order would keep a discount
    nobody paid for. ``UnableToPlaceOrder`` makes Oscar's checkout say why and
    show the preview again; any other error is logged, not raised.
    """
    try:
        with transaction.atomic():
            redemption.use_in_order(order, voucher_id)
    except UnableToPlaceOrder:
        raise
    except Exception:
        logger.exception(
            "oscar_loyalty: marking voucher %s used by order %s failed", voucher_id, order.number
        )


def cancelled(order: AbstractOrder) -> None:
    """The order was cancelled: it earns nothing, and its points vouchers give their points back."""
    _safely(awards.cancel_award, order)
    _safely(redemption.restore_for_cancelled, order)
    _safely(recompute_tier, order)


def is_refund_event(event: AbstractPaymentEvent) -> bool:
    """Whether a payment event is one of ``REFUND_EVENT_TYPES`` (by name or code)."""
    names = {name.lower() for name in loyalty_settings.REFUND_EVENT_TYPES}
    kind = event.event_type
    return kind.name.lower() in names or (kind.code or "").lower() in names


def refunded(order: AbstractOrder) -> None:
    """Some of the order's lines came back: its award shrinks, or is taken back, in proportion."""
    _safely(awards.recompute_award, order)
    _safely(recompute_tier, order)


def recompute_tier(order: AbstractOrder) -> None:
    """A refund or cancellation may take the customer below their tier: recompute theirs."""
    if order.user_id is not None:
        tiers.recompute_customer(order.user_id)
