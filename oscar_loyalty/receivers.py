"""Signals in, nothing else: Oscar's, allauth's and our own events, handed to a task or to
``orders``.

What an event means lives elsewhere (``orders``, ``redemption``,
``referrals``); a receiver only picks the moment. Loyalty must never break a
checkout, an order update or a sign-up: nothing raised here reaches the sender,
but for two on purpose: a customer's deletion, which closing their account is
part of, and an order refused because its points voucher was given back a
moment before (``orders.discount_recorded``).

With ``OSCAR_LOYALTY_HOOKS = False`` the receivers of Oscar's and allauth's
events do nothing (``hooked``): the store runs as if the plugin were not
there, to measure what it costs. Erasing a deleted customer's data stays
on: it is part of the deletion, not a hook into a page.
"""

import logging
from functools import partial, wraps

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver
from oscar.apps.basket.signals import voucher_removal
from oscar.apps.customer.signals import user_registered
from oscar.apps.order.signals import order_line_status_changed, order_placed, order_status_changed
from oscar.core.loading import get_model

from . import bonus, notifications, orders, privacy, redemption, referrals, signals, tasks
from .conf import loyalty_settings
from .models import LedgerEntry

logger = logging.getLogger(__name__)


def hooked(receiver_function):
    """The receiver, doing nothing while ``HOOKS`` is off (read at each signal)."""

    @wraps(receiver_function)
    def receive(*args, **kwargs):
        if loyalty_settings.HOOKS:
            return receiver_function(*args, **kwargs)
        return None

    return receive


@receiver(order_placed, dispatch_uid="oscar_loyalty.order_placed")
@hooked
def award_order(sender, order, **kwargs):
    """Hand the placed order to a Celery task: the customer waits for none of the work.

    The task is queued once the order is committed (a store with
    ``ATOMIC_REQUESTS`` commits after the whole request), and never holds up
    the checkout: an order that could not be queued is recorded by the
    reconcile job.
    """
    if order.user_id is None:
        return
    transaction.on_commit(partial(tasks.queue_order_placed, order.pk, order.number))


@receiver(
    post_save,
    sender=get_model("order", "OrderDiscount"),
    dispatch_uid="oscar_loyalty.order_discount",
)
@hooked
def voucher_used(sender, instance, created, **kwargs):
    """Oscar's ``place_order`` records a discount: its voucher may be a points voucher."""
    if created and instance.voucher_id:
        orders.discount_recorded(instance.order, instance.voucher_id)


@receiver(order_status_changed, dispatch_uid="oscar_loyalty.order_status_changed")
@hooked
def order_cancelled(sender, order, old_status, new_status, **kwargs):
    if new_status in loyalty_settings.CANCELLED_ORDER_STATUSES:
        orders.cancelled(order)


@receiver(order_line_status_changed, dispatch_uid="oscar_loyalty.order_line_status_changed")
@hooked
def line_refunded(sender, line, old_status, new_status, **kwargs):
    if new_status in loyalty_settings.REFUNDED_LINE_STATUSES:
        orders.refunded(line.order)


@receiver(
    post_save,
    sender=get_model("order", "PaymentEventQuantity"),
    dispatch_uid="oscar_loyalty.payment_event_quantity",
)
@hooked
def payment_event_recorded(sender, instance, created, **kwargs):
    """A refund's line quantities shrink the order's awards; other payment events change nothing."""
    if created and orders.is_refund_event(instance.event):
        orders.refunded(instance.line.order)


@receiver(voucher_removal, dispatch_uid="oscar_loyalty.voucher_removal")
@hooked
def points_voucher_removed(sender, basket, voucher, **kwargs):
    """Taking a points voucher out of the basket gives the points back at once."""
    redemption.voucher_removed(voucher)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="oscar_loyalty.user_deleted")
def customer_deleted(sender, instance, **kwargs):
    """A customer deleted (Oscar's "Delete profile" page, the admin...): erase their data.

    ``privacy.erase``: pending awards voided, the account detached (its entries
    kept), nothing left that names them. Runs inside the deletion's transaction:
    if erasing fails, the deletion fails too, rather than leave an account that
    still names a deleted customer.
    """
    privacy.erase(instance)


@hooked
def _signed_up(request, user, **kwargs):
    """A new customer, from allauth or from Oscar's own registration."""
    _safely("the joining bonus", user.pk, bonus.joined, user)
    _safely("the sign-up", user.pk, referrals.signed_up, request, user)


def _safely(what, ref, action, *args):
    """Run a loyalty step in a savepoint; log its error, never raise it into the sender."""
    try:
        with transaction.atomic():
            return action(*args)
    except Exception:
        logger.exception("oscar_loyalty: %s (%s) failed", what, ref)
        return None


user_registered.connect(_signed_up, dispatch_uid="oscar_loyalty.user_registered")
if apps.is_installed("allauth.account"):
    from allauth.account.signals import user_signed_up

    user_signed_up.connect(_signed_up, dispatch_uid="oscar_loyalty.user_signed_up")
    from allauth.account.signals import email_confirmed

    @receiver(email_confirmed, dispatch_uid="oscar_loyalty.email_confirmed")
    def email_verified(request, email_address, **kwargs):
        """A verified address: the guest orders placed with it are credited (by a task)."""
        user_id, email = email_address.user_id, email_address.email
        transaction.on_commit(partial(_queue_task, tasks.credit_guest_orders, user_id, email))


@receiver(
    post_save,
    sender=get_model("reviews", "ProductReview"),
    dispatch_uid="oscar_loyalty.review_saved",
)
def review_saved(sender, instance, **kwargs):
    """A review approved earns its author's bonus; one no longer approved gives it back."""
    if instance.user_id is None:
        return
    if instance.status == instance.APPROVED:
        _safely("the review bonus", instance.pk, bonus.review_approved, instance)
    else:
        _safely(
            "taking back a review bonus",
            instance.pk,
            bonus.review_withdrawn,
            instance.user_id,
            instance.product_id,
        )


@receiver(
    post_delete,
    sender=get_model("reviews", "ProductReview"),
    dispatch_uid="oscar_loyalty.review_deleted",
)
def review_deleted(sender, instance, **kwargs):
    if instance.user_id is not None and instance.status == instance.APPROVED:
        _safely(
            "taking back a review bonus",
            instance.pk,
            bonus.review_withdrawn,
            instance.user_id,
            instance.product_id,
        )


PROFILE_FIELDS = {"first_name", "last_name", "email"}


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="oscar_loyalty.profile_saved")
def profile_saved(sender, instance, created, update_fields=None, **kwargs):
    """A saved profile may now be complete (a login, saving only its date, is skipped)."""
    if update_fields is not None and not PROFILE_FIELDS & set(update_fields):
        return
    _safely("the profile bonus", instance.pk, bonus.profile_saved, instance)


def _queue_task(task, *args):
    """Queue ``task``; if the broker is down, run it now (errors logged, never raised)."""
    try:
        task.delay(*args)
    except Exception:
        logger.exception("oscar_loyalty: queueing %s failed; running it now", task.name)
        try:
            task(*args)
        except Exception:
            logger.exception("oscar_loyalty: %s failed", task.name)


@receiver(signals.award_matured, dispatch_uid="oscar_loyalty.email_points_available")
def points_available(sender, entry_ids, **kwargs):
    """Matured points: their customers hear of it from a task, the periodic job waits for none."""
    _queue_email("points_available", tasks.send_points_available, list(entry_ids))


@receiver(signals.award_matured, dispatch_uid="oscar_loyalty.tiers_award_matured")
def recompute_tiers(sender, entry_ids, **kwargs):
    """Matured points may lift their customers to a higher tier: a task recomputes theirs."""
    account_ids = sorted(
        set(LedgerEntry.objects.filter(pk__in=list(entry_ids)).values_list("account_id", flat=True))
    )
    try:
        tasks.recompute_tiers_for.delay(account_ids)
    except Exception:
        logger.exception("oscar_loyalty: queueing the tier recompute failed; the nightly one will")


@receiver(signals.referral_rewarded, dispatch_uid="oscar_loyalty.email_referral_rewarded")
def referral_rewarded(sender, referral, award, **kwargs):
    _queue_email("referral_rewarded", tasks.send_referral_rewarded, referral.pk)


def _queue_email(message, task, argument):
    """Queue an email's task (not at all if the merchant switched it off).

    If the task cannot be queued (the broker is down) the email goes now, so
    none is lost; an error sending it is logged, never raised into the sender.
    """
    if not notifications.email_setting(message)["send"]:
        return
    try:
        task.delay(argument)
    except Exception:
        logger.exception("oscar_loyalty: queueing the %s email failed; sending it now", message)
        try:
            task(argument)
        except Exception:
            logger.exception("oscar_loyalty: sending the %s email failed", message)
