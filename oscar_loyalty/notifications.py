"""Emails to customers: the monthly statement, event messages, unsubscribing.

Every email is rendered by Oscar's communication framework (event types
``LOYALTY_*``, whose templates a merchant edits in Oscar's dashboard) in the
customer's language, and leaves through ``send()``, the one place that decides
whether it may go: switched on by the merchant, marketing only with consent,
and claimed once (a ``SentMessage`` row per customer and key, committed before
sending), so a redelivered task or a re-run sends nothing twice.

Marketing emails carry a signed one-click unsubscribe link and the RFC 8058
``List-Unsubscribe`` / ``List-Unsubscribe-Post`` headers. This module reads the
ledger; it never writes points.
"""

import logging
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sites.models import Site
from django.core import signing
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.urls import reverse
from django.utils import timezone, translation
from oscar.core.loading import get_class
from oscar.templatetags.currency_filters import currency

from . import awards, expiry, keys
from .conf import DEFAULTS, loyalty_settings
from .consent import marketing_consent
from .models import (
    Account,
    LedgerEntry,
    PendingAward,
    PointsLot,
    Referral,
    SentMessage,
)

logger = logging.getLogger(__name__)
Dispatcher = get_class("communication.utils", "Dispatcher")
Kind = LedgerEntry.Kind

# Each message and its Oscar communication event type.
EVENT_TYPES = {
    "statement": "LOYALTY_STATEMENT",
    "points_available": "LOYALTY_POINTS_AVAILABLE",
    "points_expiring": "LOYALTY_POINTS_EXPIRING",
    "points_last_chance": "LOYALTY_POINTS_LAST_CHANCE",
    "referral_rewarded": "LOYALTY_REFERRAL_REWARDED",
    "winback": "LOYALTY_WINBACK",
}
UNSUBSCRIBE_SALT = "oscar_loyalty.unsubscribe"
# The statement lists points expiring before the next statement and the one after.
STATEMENT_EXPIRING_DAYS = 62
# Customers read (and emails sent on one SMTP connection) per batch.
BATCH_SIZE = 100


# Unsubscribing


def unsubscribe_token(user) -> str:
    """The customer's id, signed with the project's SECRET_KEY.

    The same in every email (no timestamp): a link in an old email still works.
    """
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(str(user.pk))


def user_for_token(token: str):
    """The customer an unsubscribe token names, or None if it was not signed by us."""
    try:
        user_id = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token)
    except signing.BadSignature:
        return None
    if not user_id.isdigit():
        return None
    return get_user_model().objects.filter(pk=int(user_id)).first()


# Sending


def email_setting(message: str) -> dict:
    """``{"send": bool, "marketing": bool}`` for ``message``: the default, then the store's."""
    return {**DEFAULTS["EMAILS"][message], **loyalty_settings.EMAILS.get(message, {})}


def absolute_url(path: str) -> str:
    """A link for an email, built as Oscar's own emails build theirs."""
    return f"{settings.OSCAR_URL_SCHEMA}://{Site.objects.get_current().domain}{path}"


class _HeadersConnection:
    """An email connection adding headers to what Oscar's dispatcher hands it.

    Oscar's ``Dispatcher`` builds the email itself and has no way to pass
    headers, but it sends through the connection it is given.
    """

    def __init__(self, headers, connection):
        self.headers, self.connection = headers, connection

    def send_messages(self, emails):
        for email in emails:
            email.extra_headers.update(self.headers)
        return self.connection.send_messages(emails)


def send(user, message: str, key: str, context: dict, connection=None) -> bool:
    """Send ``message`` to ``user`` at most once for ``key``; whether it went.

    Nothing goes when the merchant switched the message off, when it is
    marketing and the customer has not consented, when the customer has no
    email address, is inactive or was deleted (``user`` None: an account
    outlives its customer), or when ``key`` was claimed before. The claim
    is committed before the email is sent: a worker killed in between loses
    this one email instead of ever sending it twice. If sending raises, the
    claim is given up so that a retry sends it.
    """
    switch = email_setting(message)
    if not switch["send"] or user is None or not user.is_active or not user.email:
        return False
    consent = marketing_consent(user)
    if switch["marketing"] and not consent.marketing:
        return False
    try:
        with transaction.atomic():
            claim = SentMessage.objects.create(user=user, message=message, key=key)
    except IntegrityError:
        return False
    try:
        with translation.override(consent.language or settings.LANGUAGE_CODE):
            headers = {}
            context = {
                "user": user,
                "rewards_url": absolute_url(reverse("oscar_loyalty:rewards")),
                **context,
            }
            if switch["marketing"]:
                path = reverse("oscar_loyalty:unsubscribe", args=[unsubscribe_token(user)])
                context["unsubscribe_url"] = url = absolute_url(path)
                headers = {
                    "List-Unsubscribe": f"<{url}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                }
            dispatcher = Dispatcher(
                logger=logger,
                mail_connection=_HeadersConnection(headers, connection or get_connection()),
            )
            dispatcher.dispatch_user_messages(
                user, dispatcher.get_messages(EVENT_TYPES[message], context)
            )
    except Exception:
        claim.delete()
        raise
    SentMessage.objects.filter(pk=claim.pk).update(sent_at=timezone.now())
    return True


# The monthly statement


def statement_month(now: datetime | None = None) -> date:
    """The month the statement sent at ``now`` is about: the one before."""
    today = timezone.localdate(now or timezone.now())
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def _month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month's first moment and the next month's, in the shop's time zone."""
    following = month + relativedelta(months=1)
    return (
        timezone.make_aware(datetime(month.year, month.month, 1)),
        timezone.make_aware(datetime(following.year, following.month, 1)),
    )


def statement_recipients(month: date):
    """Accounts that get ``month``'s statement and have not had it yet, by user id.

    Those with points, points on their way, or any change in the month; only
    with consent when the statement is marketing (the default).
    """
    start, end = _month_bounds(month)
    accounts = Account.objects.filter(user__is_active=True).exclude(user__email="")
    if email_setting("statement")["marketing"]:
        accounts = accounts.filter(user__loyalty_consent__marketing=True)
    pending = PendingAward.objects.filter(
        account=OuterRef("pk"), status=PendingAward.Status.PENDING, points__gt=0
    )
    moved = LedgerEntry.objects.filter(
        account=OuterRef("pk"), created_at__gte=start, created_at__lt=end
    )
    sent = SentMessage.objects.filter(user_id=OuterRef("user_id"), key=keys.statement_email(month))
    return (
        accounts.filter(Q(balance__gt=0) | Exists(pending) | Exists(moved))
        .exclude(Exists(sent))
        .order_by("user_id")
    )


def statement_batches(month: date):
    """Lists of user ids to send ``month``'s statement to, read a batch at a time."""
    size, after = BATCH_SIZE, 0
    while True:
        ids = list(
            statement_recipients(month)
            .filter(user_id__gt=after)
            .values_list("user_id", flat=True)[:size]
        )
        if not ids:
            return
        yield ids
        after = ids[-1]


def statement_context(account, month: date, now: datetime | None = None) -> dict:
    """What the statement says: the month's movements, balance, pending and expiring points."""
    now = now or timezone.now()
    start, end = _month_bounds(month)
    totals = dict(
        LedgerEntry.objects.filter(account=account, created_at__gte=start, created_at__lt=end)
        .order_by()
        .values_list("kind")
        .annotate(Sum("points"))
    )
    return {
        "month": month,
        "balance": account.balance,
        "balance_value": currency(account.balance * loyalty_settings.POINT_VALUE),
        "earned": totals.get(Kind.EARN, 0),
        # Points given back (an unused points voucher) are not spent after all.
        "spent": -(totals.get(Kind.SPEND, 0) + totals.get(Kind.RESTORE, 0)),
        "expired": -totals.get(Kind.EXPIRE, 0),
        "taken_back": -totals.get(Kind.CLAWBACK, 0),
        "adjusted": totals.get(Kind.ADJUSTMENT, 0),
        "pending": list(awards.pending_awards(account)),
        "expiring": expiry.expiring_soon(account, days=STATEMENT_EXPIRING_DAYS, now=now),
    }


def send_statements(month: date, user_ids, now: datetime | None = None) -> int:
    """Send ``month``'s statement to these customers (one SMTP connection); how many went."""
    key = keys.statement_email(month)
    sent = 0
    with get_connection() as connection:
        accounts = Account.objects.filter(user_id__in=user_ids).select_related("user")
        for account in accounts.order_by("user_id"):
            context = statement_context(account, month, now)
            sent += send(account.user, "statement", key, context, connection)
    return sent


# Event messages


def send_points_available(entry_ids) -> int:
    """Tell each customer whose pending points matured (these earn entries) that they are theirs."""
    entries = (
        LedgerEntry.objects.filter(pk__in=entry_ids, kind=Kind.EARN)
        .select_related("account__user", "order")
        .order_by("id")
    )
    by_account = {}
    for entry in entries:
        by_account.setdefault(entry.account_id, []).append(entry)
    sent = 0
    for earned in by_account.values():
        account = earned[0].account
        context = {
            "points": sum(e.points for e in earned),
            "entries": earned,
            "balance": account.balance,
            "balance_value": currency(account.balance * loyalty_settings.POINT_VALUE),
        }
        key = keys.available_email(earned[0].pk)
        sent += send(account.user, "points_available", key, context)
    return sent


def send_referral_rewarded(referral_id) -> bool:
    """Tell a referrer that their friend's first order earned them points."""
    award = (
        PendingAward.objects.filter(referral_id=referral_id)
        .exclude(status=PendingAward.Status.VOID)
        .select_related("referral__referrer")
        .first()
    )
    if award is None or award.referral.status != Referral.Status.ACTIVE:
        return False
    context = {"points": award.points, "matures_at": award.matures_at}
    referrer = award.referral.referrer
    return send(referrer, "referral_rewarded", keys.referral_email(referral_id), context)


def expiring_between(start: datetime, end: datetime):
    """``(user_id, day, points)`` for points that really expire after ``start``, by ``end``.

    Under the "lifetime" policy, the lots due on each day; under "inactivity",
    the whole balance of accounts that go quiet for too long; never under
    "never".
    """
    policy = loyalty_settings.EXPIRY_POLICY
    if policy == "lifetime":
        yield from (
            PointsLot.objects.filter(remaining__gt=0, expires_at__gt=start, expires_at__lte=end)
            .annotate(day=TruncDate("expires_at"))
            .values_list("account__user_id", "day")
            .annotate(points=Sum("remaining"))
            .order_by("account__user_id", "day")
            .iterator()
        )
    elif policy == "inactivity":
        months = relativedelta(months=loyalty_settings.EXPIRY_MONTHS)
        # Month arithmetic does not run backwards exactly (31 March - 1 month is
        # 28 February): read a little more, then keep what adds up.
        slack = timedelta(days=3)
        accounts = (
            Account.objects.filter(balance__gt=0)
            .annotate(active_at=Coalesce("last_activity_at", "created_at"))
            .filter(active_at__gt=start - months - slack, active_at__lte=end - months + slack)
            .values_list("user_id", "active_at", "balance")
            .order_by("user_id")
        )
        for user_id, active_at, balance in accounts.iterator():
            at = active_at + months
            if start < at <= end:
                yield user_id, timezone.localdate(at), balance


def send_expiry_reminders(now: datetime | None = None) -> int:
    """Remind customers of points about to expire: N days before, and a last chance.

    Run daily. Each expiry day of a customer gets each reminder once, even if
    a run is missed; points due within the last-chance window get only the
    last chance.
    """
    now = now or timezone.now()
    last_chance = now + timedelta(days=loyalty_settings.EXPIRY_LAST_CHANCE_DAYS)
    windows = (
        ("points_last_chance", keys.last_chance_email, now, last_chance),
        (
            "points_expiring",
            keys.expiring_email,
            last_chance,
            now + timedelta(days=loyalty_settings.EXPIRY_REMINDER_DAYS),
        ),
    )
    User = get_user_model()
    sent = 0
    with get_connection() as connection:
        for message, key_for, start, end in windows:
            if not email_setting(message)["send"]:
                continue
            rows = expiring_between(start, end)
            while batch := [row for _, row in zip(range(BATCH_SIZE), rows, strict=False)]:
                users = User.objects.in_bulk({user_id for user_id, _day, _points in batch})
                for user_id, day, points in batch:
                    context = {"points": points, "day": day}
                    user = users.get(user_id)
                    sent += send(user, message, key_for(day), context, connection)
    return sent
