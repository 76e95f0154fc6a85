"""Points at the shop's till: a staff member awards, redeems and corrects.

The customer shows the card code their app displays (``card_code``: signed,
valid for ``OSCAR_LOYALTY_CARD_CODE_MINUTES``, so a screenshot is soon
useless); the till finds them with ``find_customers`` and posts.

Every posting carries the till's own key (its ``Idempotency-Key``, made into
a ledger key by ``keys``), so a till that retries (a lost response, a double
tap) posts once: the same key again returns the first entry, and the same key
for a different request is refused with ``KeyReused``. An in-store purchase
earns at once, at the store's rate: there is no web order to return; a return
at the till is an adjustment.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import keys, ledger, reasons
from .conf import loyalty_settings
from .earning import get_earning_rule
from .exceptions import KeyReused, LedgerError
from .models import LedgerEntry

CARD_SALT = "oscar_loyalty.till.card"
# A till's key: a UUID, a receipt number with the till's name... one token.
TILL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
MAX_AMOUNT = Decimal("1000000000")
MAX_REFERENCE_LENGTH = 64


def card_code(user, now=None) -> tuple[str, object]:
    """The code the customer's app shows at the till, and when it stops working."""
    now = now or timezone.now()
    expires_at = (now + timedelta(minutes=loyalty_settings.CARD_CODE_MINUTES)).replace(
        microsecond=0
    )
    code = signing.Signer(salt=CARD_SALT).sign(f"{user.pk}.{int(expires_at.timestamp())}")
    return code, expires_at


def customer_for_card(code, now=None):
    """The customer a card code names, or None if it is forged, garbled or expired."""
    try:
        value = signing.Signer(salt=CARD_SALT).unsign(str(code))
        pk, expires = (int(part) for part in value.split("."))
    except (signing.BadSignature, ValueError):
        return None
    if (now or timezone.now()).timestamp() >= expires:
        return None
    return get_user_model().objects.filter(pk=pk, is_active=True).first()


def find_customers(*, email: str = "", card: str = "", limit: int = 20) -> list:
    """Customers by exact email (any case), or the one the app's card code names."""
    if card:
        customer = customer_for_card(card)
        return [customer] if customer else []
    if email.strip():
        users = get_user_model().objects.filter(email__iexact=email.strip(), is_active=True)
        return list(users.order_by("pk")[:limit])
    return []


def find_customer(text: str):
    """The one customer a staff member typed at the counter: an email, a member number
    ("#42" or "42": their points account's number) or the card code their app shows.

    ``LedgerError`` saying why when none, or several (a shared email), match.
    """
    text = str(text or "").strip()
    User = get_user_model()
    if "\x00" in text or len(text) > 254:
        found = []
    elif "@" in text:
        found = list(User.objects.filter(email__iexact=text, is_active=True).order_by("pk")[:2])
    elif text.lstrip("#").isdigit() and len(text) < 19:
        found = list(User.objects.filter(loyalty_account__pk=int(text.lstrip("#")), is_active=True))
    else:
        found = find_customers(card=text) if text else []
    if len(found) > 1:
        raise LedgerError(
            _("Several customers have this email: use their member number or card code.")
        )
    if not found:
        raise LedgerError(_("No customer has this email, member number or card code."))
    return found[0]


def recorded(verb: str, key: str) -> LedgerEntry | None:
    """The entry already posted at the till for ``key`` ("earn" or "spend"), if any."""
    build = {"earn": keys.till_earn, "spend": keys.till_spend}[verb]
    return LedgerEntry.objects.filter(idempotency_key=build(_check_key(key))).first()


def award_purchase(customer, amount, *, key: str, reference: str = "", staff_user):
    """Points for a purchase paid at the till, earned at once at the store's rate."""
    _check_staff(staff_user)
    if not isinstance(amount, Decimal) or not amount.is_finite() or not 0 < amount <= MAX_AMOUNT:
        raise LedgerError(_("The amount must be more than zero."))
    points = get_earning_rule().points(settings.OSCAR_DEFAULT_CURRENCY, amount)
    if points == 0:
        raise LedgerError(_("This purchase is too small to earn points."))
    account, key = _prepare(customer, keys.till_earn(_check_key(key)), points)
    entry = ledger.earn(
        account,
        points,
        key=key,
        reason=_reason(reasons.TILL_PURCHASE, reference),
        staff_user=staff_user,
    )
    return _same_request(entry, account, points)


def redeem(customer, points, *, key: str, reference: str = "", staff_user):
    """Spend ``points`` for a discount given at the till; never overdraws."""
    _check_staff(staff_user)
    minimum = loyalty_settings.MIN_POINTS_PER_USE
    if isinstance(points, bool) or not isinstance(points, int) or points < minimum:
        raise LedgerError(_("Use at least %(min)d points at a time.") % {"min": minimum})
    account, key = _prepare(customer, keys.till_spend(_check_key(key)), -points)
    entry = ledger.spend(
        account,
        points,
        key=key,
        reason=_reason(reasons.TILL_REDEMPTION, reference),
        staff_user=staff_user,
    )
    return _same_request(entry, account, -points)


def redeem_reward(customer, reward_id, *, key: str, staff_user):
    """Give a catalogue reward at the counter: its cost is spent and it counts as claimed.

    Once per ``key`` (the receipt): the same receipt again returns the first entry
    and claims nothing more; the reward is locked, so its stock is never exceeded.
    """
    from .models import Reward

    _check_staff(staff_user)
    with transaction.atomic():
        reward = Reward.objects.select_for_update().filter(pk=reward_id).first()
        if reward is None:
            raise LedgerError(_("This reward does not exist."))
        account, ledger_key = _prepare(customer, keys.till_spend(_check_key(key)), -reward.cost)
        existing = LedgerEntry.objects.filter(idempotency_key=ledger_key).first()
        if existing is not None:
            return existing
        if not reward.is_available():
            raise LedgerError(_("This reward is not available now."))
        entry = ledger.spend(
            account,
            reward.cost,
            key=ledger_key,
            reason=reasons.reward(reward.pk, reward.name),
            staff_user=staff_user,
        )
        reward.claimed += 1
        reward.save(update_fields=["claimed"])
    return entry


def adjust(customer, points, *, key: str, reason: str, staff_user):
    """A staff member's correction, up or down, with the reason the customer reads."""
    _check_staff(staff_user)
    account, key = _prepare(customer, keys.staff_adjust(_check_key(key)), points)
    entry = ledger.adjust(account, points, key=key, reason=reason, staff_user=staff_user)
    return _same_request(entry, account, points)


def _check_staff(staff_user):
    if staff_user is None or not getattr(staff_user, "is_staff", False):
        raise LedgerError(_("Only staff can post points at the till."))


def _check_key(key):
    if not isinstance(key, str) or not TILL_KEY.fullmatch(key):
        raise LedgerError(
            _("The key must be 1 to 64 letters, digits or . _ : - (a UUID, for instance).")
        )
    return key


def _reason(code, reference):
    """The till's reason: its code, with the receipt's reference if given."""
    reference = str(reference or "").strip()
    if len(reference) > MAX_REFERENCE_LENGTH:
        raise LedgerError(
            _("The reference must be at most %(max)d characters.") % {"max": MAX_REFERENCE_LENGTH}
        )
    return reasons.Reason(code, {"reference": reference} if reference else {})


def _prepare(customer, key, points):
    """The customer's account, refusing a key that already names another posting."""
    account = ledger.get_account(customer)
    existing = LedgerEntry.objects.filter(idempotency_key=key).first()
    if existing is not None:
        _same_request(existing, account, points)
    return account, key


def _same_request(entry, account, points):
    # Two different requests racing with one key: the ledger posted the first.
    if entry.account_id != account.pk or entry.points != points:
        raise KeyReused()
    return entry
