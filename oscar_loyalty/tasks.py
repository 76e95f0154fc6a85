"""Celery tasks: thin wrappers; the work is in ``orders``, ``awards``, ``expiry``,
``redemption``, ``reconcile``, ``kpis``, ``notifications`` and ``importing``. Never
imports ``receivers`` (which queues these).

Each is safe to run twice at once or to be redelivered.
"""

import logging
from datetime import date, datetime

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from kombu.pools import producers
from oscar.core.loading import get_model

from . import (
    awards,
    bonus,
    expiry,
    guests,
    importing,
    kpis,
    notifications,
    orders,
    reconcile,
    redemption,
    tiers,
    winback,
)
from .conf import loyalty_settings

logger = logging.getLogger(__name__)
Order = get_model("order", "Order")


@shared_task(
    name="oscar_loyalty.order_placed",
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=6,
    default_retry_delay=10,
)
def order_placed(self, order_id):
    """Record a placed order's award, used vouchers and referral.

    Acknowledged once done (``acks_late``), so a worker that dies on it hands
    it to another: running it again records nothing twice. The order is
    queued once committed; a replica that lags may not see it yet, so it
    retries. The order's row is locked while the steps run, so a
    cancellation saved at the same moment either comes first (and is seen
    here) or waits for the award, then voids it.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise self.retry()
        orders.placed(order)


def queue_order_placed(order_id, number):
    """Queue ``order_placed`` for an order without ever holding up its checkout.

    One try, through a connection that waits ``QUEUE_TIMEOUT`` seconds at most
    (Celery's own publishing retries for seconds when the broker is down). On
    failure: one log line, and the reconcile job records the order later.
    """
    task = order_placed
    try:
        if task.app.conf.task_always_eager:
            task.delay(order_id)
            return
        timeout = loyalty_settings.QUEUE_TIMEOUT
        connection = task.app.connection_for_write(
            connect_timeout=timeout,
            transport_options={"max_retries": 0, "socket_connect_timeout": timeout},
        )
        with producers[connection].acquire(block=True, timeout=timeout) as producer:
            task.apply_async((order_id,), producer=producer, retry=False)
    except Exception as exc:
        logger.warning(
            "oscar_loyalty: order %s not queued (%s: %s); the reconcile job will record it",
            number,
            type(exc).__name__,
            exc,
        )


# How many chunks (of TASK_CHUNK_SIZE awards) one task of the maturing job posts.
CHUNKS_PER_TASK = 10


@shared_task(name="oscar_loyalty.mature_awards", ignore_result=True)
def mature_awards():
    """Fan the due awards out: one ``mature_award_range`` task a range of them.

    Each range is ``CHUNKS_PER_TASK`` chunks, so every worker takes a share;
    the workers need nothing of ours to agree on who does what: each chunk
    is claimed with ``FOR UPDATE SKIP LOCKED``, each entry posted once by its
    key. Returns the number of tasks queued.
    """
    size = loyalty_settings.TASK_CHUNK_SIZE * CHUNKS_PER_TASK
    ranges = awards.due_ranges(timezone.now(), size)
    for after, until in ranges:
        mature_award_range.delay(_position_out(after), _position_out(until))
    return len(ranges)


@shared_task(
    name="oscar_loyalty.mature_award_range",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
)
def mature_award_range(after, until):
    """Post the due awards in one range (``[matures_at, id]`` pairs, None: open).

    Acknowledged once done: a worker that dies on it hands it to another,
    which posts only what the first had not committed.
    """
    return awards.mature_due_awards(after=_position_in(after), until=_position_in(until))


def _position_out(position):
    return None if position is None else [position[0].isoformat(), position[1]]


def _position_in(value):
    if value is None:
        return None
    try:
        at, pk = value
        parsed = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        parsed = pk = None
    if parsed is None or timezone.is_naive(parsed) or type(pk) is not int:
        raise ValueError(f"not a position of the maturing job: {value!r}")
    return parsed, pk


@shared_task(name="oscar_loyalty.expire_points", ignore_result=True)
def expire_points():
    return expiry.expire_due_points()


@shared_task(name="oscar_loyalty.restore_unused_redemptions", ignore_result=True)
def restore_unused_redemptions():
    return redemption.expire_unused()


@shared_task(name="oscar_loyalty.reconcile_orders", ignore_result=True)
def reconcile_orders():
    return reconcile.record_missing_awards()


@shared_task(name="oscar_loyalty.store_daily_figures", ignore_result=True)
def store_daily_figures():
    return kpis.store_daily_figures()


@shared_task(name="oscar_loyalty.recompute_tiers", ignore_result=True)
def recompute_tiers():
    return tiers.recompute_all()


@shared_task(name="oscar_loyalty.recompute_tiers_for", ignore_result=True, acks_late=True)
def recompute_tiers_for(account_ids):
    """The tiers of a few customers whose points just matured."""
    return tiers.recompute_accounts(account_ids)


@shared_task(name="oscar_loyalty.send_statements", ignore_result=True)
def send_statements(month=None):
    """Queue last month's statements (or ``month``, "YYYY-MM"), a batch a task.

    Batches are spread out in time so that no more than
    ``OSCAR_LOYALTY_EMAILS_PER_MINUTE`` go a minute. Running it again queues
    only the customers who have not had theirs.
    """
    month = date.fromisoformat(f"{month}-01") if month else notifications.statement_month()
    seconds_per_email = 60 / loyalty_settings.EMAILS_PER_MINUTE
    queued = 0
    for user_ids in notifications.statement_batches(month):
        send_statement_batch.apply_async(
            (month.isoformat(), user_ids), countdown=round(queued * seconds_per_email)
        )
        queued += len(user_ids)
    return queued


@shared_task(
    name="oscar_loyalty.send_statement_batch",
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=5,
    default_retry_delay=300,
)
def send_statement_batch(self, month, user_ids):
    """Send one batch of statements. Acknowledged only once done, so a batch whose
    worker died is delivered again, and sends only what was not claimed yet."""
    try:
        return notifications.send_statements(date.fromisoformat(month), user_ids)
    except OSError as exc:  # the mail server is unreachable: try again later
        raise self.retry(exc=exc) from exc


@shared_task(name="oscar_loyalty.send_expiry_reminders", ignore_result=True)
def send_expiry_reminders():
    return notifications.send_expiry_reminders()


@shared_task(name="oscar_loyalty.send_points_available", ignore_result=True, acks_late=True)
def send_points_available(entry_ids):
    return notifications.send_points_available(entry_ids)


@shared_task(name="oscar_loyalty.send_referral_rewarded", ignore_result=True, acks_late=True)
def send_referral_rewarded(referral_id):
    return notifications.send_referral_rewarded(referral_id)


@shared_task(
    name="oscar_loyalty.import_file",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
)
def import_file(run_id):
    """Import an uploaded file; delivered twice or restarted, it posts nothing twice."""
    importing.import_upload(run_id)


@shared_task(name="oscar_loyalty.give_birthday_bonuses", ignore_result=True)
def give_birthday_bonuses():
    return bonus.give_birthday_bonuses()


@shared_task(name="oscar_loyalty.credit_guest_orders", ignore_result=True, acks_late=True)
def credit_guest_orders(user_id, email):
    """A customer verified ``email``: their guest orders with it become theirs (once)."""
    User = get_user_model()
    user = User.objects.filter(pk=user_id).first()
    return len(guests.credit_guest_orders(user, email))


@shared_task(name="oscar_loyalty.send_winback_coupons", ignore_result=True)
def send_winback_coupons():
    return winback.send_all()
