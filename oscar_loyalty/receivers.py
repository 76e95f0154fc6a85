"""Oscar's order signals -> maturation.

Loyalty must never break a checkout or an order update: each step runs in a
savepoint and logs its errors instead of raising them.
"""

import logging

from django.apps import apps
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils.translation import gettext as _
from oscar.apps.basket.signals import voucher_removal
from oscar.apps.customer.signals import user_registered
from oscar.apps.order.signals import order_line_status_changed, order_placed, order_status_changed
from oscar.core.loading import get_model

from . import maturation, redemption, referrals, tasks
from .conf import loyalty_settings
from .models import Redemption

logger = logging.getLogger(__name__)


def _safely(action, order):
    try:
        with transaction.atomic():
            action(order)
    except Exception:
        logger.exception("oscar_loyalty: %s failed for order %s", action.__name__, order.number)


@receiver(order_placed, dispatch_uid="oscar_loyalty.order_placed")
def award_order(sender, order, **kwargs):
    """Hand the placed order to a Celery task: the customer waits for none of the work.

    Oscar sends ``order_placed`` after committing the order. If the task cannot
    be queued (the broker is down) the work is done here, so no award is lost.
    """
    if order.user_id is None:
        return
    try:
        tasks.order_placed.delay(order.pk)
    except Exception:
        logger.exception("oscar_loyalty: queueing order %s failed; doing it now", order.number)
        placed(order)


def placed(order):
    """What a placed order means for loyalty, in one transaction, each step in a savepoint.

    The order may have been cancelled while its task waited in the queue (the
    cancellation then found nothing to undo): it earns nothing, for its customer
    or a referrer, and the points vouchers it used are given back.
    """
    cancelled = order.status in loyalty_settings.CANCELLED_ORDER_STATUSES
    try:
        with transaction.atomic():
            if not cancelled:
                _safely(maturation.record_award, order)
            _safely(redemption.mark_used, order)
            if cancelled:
                _safely(redemption.restore_for_cancelled, order)
            else:
                _safely(referrals.first_order_placed, order)
    except Exception:
        logger.exception("oscar_loyalty: committing order %s's loyalty steps failed", order.number)


@receiver(order_status_changed, dispatch_uid="oscar_loyalty.order_status_changed")
def order_cancelled(sender, order, old_status, new_status, **kwargs):
    if new_status in loyalty_settings.CANCELLED_ORDER_STATUSES:
        _safely(maturation.cancel_award, order)
        _safely(redemption.restore_for_cancelled, order)


@receiver(order_line_status_changed, dispatch_uid="oscar_loyalty.order_line_status_changed")
def line_refunded(sender, line, old_status, new_status, **kwargs):
    if new_status in loyalty_settings.REFUNDED_LINE_STATUSES:
        _safely(maturation.recompute_award, line.order)


@receiver(
    post_save,
    sender=get_model("order", "PaymentEventQuantity"),
    dispatch_uid="oscar_loyalty.payment_event_quantity",
)
def payment_event_recorded(sender, instance, created, **kwargs):
    if created:
        _safely(maturation.recompute_award, instance.line.order)


@receiver(voucher_removal, dispatch_uid="oscar_loyalty.voucher_removal")
def points_voucher_removed(sender, basket, voucher, **kwargs):
    """Taking a points voucher out of the basket gives the points back at once."""
    active = Redemption.objects.filter(
        voucher=voucher, reward=None, status=Redemption.Status.ACTIVE
    ).values_list("pk", flat=True)
    for pk in active:
        try:
            redemption.restore(pk, _("Points voucher removed from the basket"))
        except Exception:
            logger.exception("oscar_loyalty: restoring redemption %s failed", pk)


def _signed_up(request, user, **kwargs):
    """A new customer, from allauth or from Oscar's own registration."""
    try:
        with transaction.atomic():
            referrals.signed_up(request, user)
    except Exception:
        logger.exception("oscar_loyalty: recording the sign-up of %s failed", user.pk)


user_registered.connect(_signed_up, dispatch_uid="oscar_loyalty.user_registered")
if apps.is_installed("allauth.account"):
    from allauth.account.signals import user_signed_up

    user_signed_up.connect(_signed_up, dispatch_uid="oscar_loyalty.user_signed_up")
