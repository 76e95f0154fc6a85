"""Points for what customers do besides buying: joining, a birthday, an approved
product review, a completed profile.

What each action pays is the merchant's (``BonusAction``, in the dashboard)
through the earning rule (``EarningRule.action_points``, overridable); the
caps (a day and ever) are checked here, under the account's row lock, so two
reviews approved at once count one after the other. Every bonus posts through
``ledger.earn`` under a key naming its cause (``keys.birthday_earn`` ...): the
same cause twice posts once.

A review that is un-approved (rejected, sent back to moderation) or deleted
after its bonus was earned has its bonus taken back (``ledger.clawback``);
approving it again pays nothing more: the bonus is one per product and
customer, ever. This module never writes ledger rows itself.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import keys, ledger, reasons
from .conf import loyalty_settings
from .earning import get_earning_rule
from .exceptions import BonusError
from .models import Account, Birthday, BonusAction, LedgerEntry

Action = BonusAction.Action

# Why the balance changed, read in the customer's language (``reasons``).
BIRTHDAY = "birthday"
REVIEW_APPROVED = "review_approved"
REVIEW_WITHDRAWN = "review_withdrawn"
PROFILE_COMPLETED = "profile_completed"
reasons.register(BIRTHDAY, _("Happy birthday!"))
reasons.register(REVIEW_APPROVED, _("Your product review was approved"))
reasons.register(REVIEW_WITHDRAWN, _("Your product review was withdrawn"))
reasons.register(PROFILE_COMPLETED, _("You completed your profile"))


def action_settings(action: str) -> BonusAction:
    """The merchant's settings for ``action``; the defaults (unsaved) if never saved.

    Joining defaults to ``OSCAR_LOYALTY_WELCOME_BONUS_POINTS`` (on when above
    0); the other actions default to off.
    """
    found = BonusAction.objects.filter(action=action).first()
    if found is not None:
        return found
    if action not in Action.values:
        raise ValueError(f"unknown bonus action {action!r}")
    if action == Action.JOIN:
        points = loyalty_settings.WELCOME_BONUS_POINTS
        return BonusAction(action=action, enabled=points > 0, points=points, lifetime_cap=1)
    once = 1 if action == Action.PROFILE else None
    return BonusAction(action=action, enabled=False, points=0, lifetime_cap=once)


def all_action_settings() -> list[BonusAction]:
    """Every action's settings, saved or default, in the order of ``BonusAction.Action``."""
    return [action_settings(action) for action in Action.values]


def give(user, action: str, key: str, reason: reasons.Reason, now: datetime | None = None):
    """Post ``action``'s bonus to ``user`` under ``key``; the entry, or None if nothing is due.

    Nothing when the action is off or worth nothing, when a cap is reached,
    or for a customer who is not signed up (no id) or inactive. The same key
    again returns the first entry.
    """
    if user is None or user.pk is None or not user.is_active:
        return None
    settings = action_settings(action)
    points = get_earning_rule().action_points(action, user, settings)
    if points <= 0:
        return None
    with transaction.atomic():
        account = ledger.get_account(user)
        Account.objects.select_for_update().filter(pk=account.pk).first()
        earned = LedgerEntry.objects.filter(idempotency_key=key).first()
        if earned is not None:
            return earned
        if _capped(account, user.pk, action, settings, now or timezone.now()):
            return None
        return ledger.earn(account, points, key=key, reason=reason)


def _capped(account, user_id, action, settings, now) -> bool:
    key, exact = keys.action_earns(action, user_id)
    mine = LedgerEntry.objects.filter(
        Q(idempotency_key=key) if exact else Q(idempotency_key__startswith=key),
        account=account,
        kind=LedgerEntry.Kind.EARN,
    )
    if settings.lifetime_cap is not None and mine.count() >= settings.lifetime_cap:
        return True
    if settings.daily_cap is not None:
        midnight = timezone.make_aware(datetime.combine(timezone.localdate(now), time()))
        if mine.filter(created_at__gte=midnight).count() >= settings.daily_cap:
            return True
    return False


# The actions


def joined(user):
    """A new customer: the joining bonus (once: its key is the old welcome bonus's)."""
    return give(
        user, Action.JOIN, keys.welcome_earn(user.pk), reasons.Reason(reasons.WELCOME_BONUS)
    )


def profile_saved(user):
    """The customer saved their profile: the profile bonus, once, when it is complete."""
    if not get_earning_rule().profile_complete(user):
        return None
    return give(user, Action.PROFILE, keys.profile_earn(user.pk), reasons.Reason(PROFILE_COMPLETED))


def review_approved(review):
    """A review became approved: its author's bonus, once per product."""
    if review.user_id is None:
        return None
    key = keys.review_earn(review.user_id, review.product_id)
    return give(review.user, Action.REVIEW, key, reasons.Reason(REVIEW_APPROVED))


def review_withdrawn(user_id: int | None, product_id: int | None):
    """An approved review was un-approved or deleted: its bonus is taken back, once.

    What the customer already spent is not taken (the clawback never
    overdraws; see ``ledger.clawback``).
    """
    if user_id is None or product_id is None:
        return None
    earn_key = keys.review_earn(user_id, product_id)
    earned = LedgerEntry.objects.filter(idempotency_key=earn_key).first()
    if earned is None:
        return None
    return ledger.clawback(
        earned.account_id,
        earned.points,
        key=keys.clawback(earn_key, 0),
        reason=reasons.Reason(REVIEW_WITHDRAWN),
        reverses=earned,
    )


# Birthdays


def check_birthday(month, day) -> tuple[int, int]:
    """``(month, day)`` as integers, or ``BonusError`` for a day no year has (31 April)."""
    try:
        month, day = int(month), int(day)
    except (TypeError, ValueError):
        raise BonusError(_("Give your birthday as a day and a month.")) from None
    # 2000 is a leap year: 29 February is a birthday too.
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2000, month)[1]:
        raise BonusError(_("That day does not exist."))
    return month, day


def set_birthday(user, month, day, consent: bool) -> Birthday:
    """Keep the customer's birthday (day and month), only with their consent, once.

    Changing it later is refused (remove it, and staff can help): moving it
    would otherwise be a way to another birthday bonus.
    """
    if consent is not True:
        raise BonusError(_("Tick the box to let us keep your birthday."))
    month, day = check_birthday(month, day)
    if user is None or user.pk is None:
        raise BonusError(_("Sign in to give your birthday."))
    birthday, created = Birthday.objects.get_or_create(
        user=user, defaults={"month": month, "day": day, "consented_at": timezone.now()}
    )
    if not created and (birthday.month, birthday.day) != (month, day):
        raise BonusError(_("Your birthday is already saved."))
    return birthday


def remove_birthday(user) -> None:
    """The customer withdrew their consent: the birthday is forgotten."""
    Birthday.objects.filter(user=user).delete()


def birthdays_on(today: date):
    """Birthdays celebrated ``today``: 29 February's on 28 February in other years."""
    q = Q(month=today.month, day=today.day)
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        q |= Q(month=2, day=29)
    return Birthday.objects.filter(q, user__is_active=True).select_related("user")


def give_birthday_bonuses(now: datetime | None = None) -> int:
    """The daily job: today's birthdays earn their bonus, once a year. Returns how many.

    A re-run (or two runs at once) posts nothing twice: the key holds the
    year. Read by keyset in chunks, so a big shop's day costs few queries.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    if not action_settings(Action.BIRTHDAY).enabled:
        return 0
    given, after = 0, 0
    chunk = loyalty_settings.TASK_CHUNK_SIZE
    while True:
        rows = list(birthdays_on(today).filter(pk__gt=after).order_by("pk")[:chunk])
        if not rows:
            return given
        for birthday in rows:
            key = keys.birthday_earn(birthday.user_id, today.year)
            reason = reasons.Reason(BIRTHDAY)
            if give(birthday.user, Action.BIRTHDAY, key, reason, now) is not None:
                given += 1
        after = rows[-1].pk
