"""Refer a friend.

A customer's link (``/r/<code>/``) leaves a signed cookie; the visitor who then
signs up (django-allauth's ``user_signed_up`` or Oscar's ``user_registered``)
is recorded as referred and gets a welcome coupon. The referrer earns
``OSCAR_LOYALTY_REFERRAL_POINTS`` through the same return window as any order:
a pending award on the friend's first order, voided if that order is cancelled
or refunded below the minimum.

Whether a referral counts is decided by ``ReferralRules``: subclass it and name
yours in ``OSCAR_LOYALTY_REFERRAL_RULES`` to change a rule.
"""

import logging
import re
import secrets
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.db import transaction
from django.db.models import F
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from . import ledger, signals
from .awards import take_back
from .conf import get_rule, loyalty_settings
from .consent import set_marketing_consent
from .coupons.codes import DEFAULT_LENGTH, random_characters
from .coupons.creation import FIXED, PERCENTAGE, CouponSpec, save_coupon
from .models import Account, MarketingConsent, PendingAward, Referral, ReferralCode

logger = logging.getLogger(__name__)
Basket = get_model("basket", "Basket")
Order = get_model("order", "Order")
UserAddress = get_model("address", "UserAddress")
Voucher = get_model("voucher", "Voucher")

COOKIE = "oscar_loyalty_referral"
SALT = "oscar_loyalty.referral"
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def code_for(user) -> ReferralCode:
    """The customer's referral code, created on first need."""
    existing = ReferralCode.objects.filter(user=user).first()
    if existing:
        return existing
    for _attempt in range(5):
        code = "".join(secrets.choice(ALPHABET) for _ in range(8))
        if not ReferralCode.objects.filter(code=code).exists():
            return ReferralCode.objects.get_or_create(user=user, defaults={"code": code})[0]
    raise RuntimeError("could not find a free referral code")


def visit(request, response, code) -> ReferralCode | None:
    """Remember a visit through a referral link in a signed cookie.

    Returns the code (with its owner), or None if the code is unknown or the
    visitor's own.
    """
    if not isinstance(code, str) or not code.isalnum() or len(code) > 16:
        return None
    found = ReferralCode.objects.filter(code=code.upper()).select_related("user").first()
    if found is None or (request.user.is_authenticated and request.user.pk == found.user_id):
        return None
    if _code_in_cookie(request) != found.code:  # a visit counts once per client and code
        ReferralCode.objects.filter(pk=found.pk).update(visits=F("visits") + 1)
    response.set_signed_cookie(
        COOKIE,
        found.code,
        salt=SALT,
        max_age=loyalty_settings.REFERRAL_COOKIE_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return found


def _code_in_cookie(request) -> str | None:
    try:
        return request.get_signed_cookie(
            COOKIE,
            salt=SALT,
            default=None,
            max_age=loyalty_settings.REFERRAL_COOKIE_DAYS * 86400,
        )
    except signing.BadSignature:
        return None


def code_from_cookie(request) -> ReferralCode | None:
    """The referral code in the visitor's cookie, or None if absent, forged or stale."""
    value = _code_in_cookie(request)
    if not value:
        return None
    return ReferralCode.objects.filter(code=value).select_related("user").first()


#: Providers that ignore dots in the local part, and their other domain names.
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def normalise_email(email) -> str:
    """One spelling per mailbox: ``J.Doe+shop@GoogleMail.com`` -> ``jdoe@gmail.com``.

    Lower case, no ``+tag``, and at Gmail no dots and one domain. Pure (no
    database): the fraud rules compare addresses with it. "" for no address.
    """
    address = (email or "").strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    local = local.split("+", 1)[0] or local
    if domain in DOTLESS_DOMAINS:
        domain = DOTLESS_DOMAINS[domain]
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


def ordered_as_guest(email) -> bool:
    """Whether a guest order was placed with any spelling of this address (``normalise_email``)."""
    return bool(guest_order_ids(email))


def guest_order_ids(email) -> list[int]:
    """Ids of the guest orders placed with any spelling of this address (``normalise_email``)."""
    wanted = normalise_email(email)
    if "@" not in wanted:
        return []
    local, domain = wanted.split("@")
    domains = [d for d, canonical in DOTLESS_DOMAINS.items() if canonical == domain] or [domain]
    dots = r"\.*" if domain in DOTLESS_DOMAINS else ""
    # A narrow filter in the database; normalise_email has the last word.
    pattern = (
        f"^{dots}"
        + dots.join(re.escape(ch) for ch in local)
        + dots
        + r"(\+[^@]*)?@("
        + "|".join(re.escape(d) for d in domains)
        + ")$"
    )
    found = Order.objects.filter(user=None, guest_email__iregex=pattern)
    return [
        pk
        for pk, address in found.order_by("pk").values_list("pk", "guest_email")
        if normalise_email(address) == wanted
    ]


def _address_key(address) -> tuple:
    return (
        "".join(ch for ch in (address.line1 or "").lower() if ch.isalnum()),
        (address.postcode or "").replace(" ", "").lower(),
    )


class ReferralRules:
    """Each rule is one method returning a reason to refuse, or None."""

    def refuse_signup(self, referrer, referred) -> str | None:
        if referrer.pk == referred.pk:
            return _("A customer cannot refer themselves.")
        theirs = normalise_email(referrer.email)
        if theirs and theirs == normalise_email(referred.email):
            return _("Same email address as the referrer.")
        earlier = Order.objects.filter(user=referred).exists() or ordered_as_guest(referred.email)
        if earlier:
            return _("The customer had ordered before.")
        return None

    def refuse_reward(self, referral, order) -> str | None:
        if order.total_incl_tax < loyalty_settings.REFERRAL_MIN_ORDER:
            return _("The first order was below the minimum.")
        if order.shipping_address and self._same_address(referral.referrer, order):
            return _("Shipped to the referrer's address.")
        month_start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        rewarded = (
            PendingAward.objects.filter(
                referral__referrer=referral.referrer, created_at__gte=month_start
            )
            .exclude(status=PendingAward.Status.VOID)
            .count()
        )
        if rewarded >= loyalty_settings.REFERRAL_MONTHLY_CAP:
            return _("The referrer reached this month's limit.")
        return None

    def _same_address(self, referrer, order) -> bool:
        theirs = {_address_key(a) for a in UserAddress.objects.filter(user=referrer)}
        theirs |= {
            _address_key(o.shipping_address)
            for o in Order.objects.filter(user=referrer, shipping_address__isnull=False)
            .select_related("shipping_address")
            .order_by("-pk")[:20]
        }
        return _address_key(order.shipping_address) in theirs


def get_referral_rules() -> ReferralRules:
    """The store's referral rules (``OSCAR_LOYALTY_REFERRAL_RULES``)."""
    return get_rule("REFERRAL_RULES")


def signed_up(request, user, marketing=None) -> Referral | None:
    """A new customer: consent, and the referral their cookie names (the joining bonus is
    ``bonus.joined``'s)."""
    if marketing is not None:
        set_marketing_consent(
            user,
            bool(marketing),
            MarketingConsent.Source.SIGNUP,
            language=getattr(request, "LANGUAGE_CODE", ""),
        )
    code = code_from_cookie(request) if request is not None else None
    if code is None or Referral.objects.filter(referred=user).exists():
        return None
    with transaction.atomic():
        reason = get_referral_rules().refuse_signup(code.user, user)
        referral = Referral.objects.create(
            referrer=code.user,
            referred=user,
            status=Referral.Status.REJECTED if reason else Referral.Status.ACTIVE,
            reason=reason or "",
        )
        if reason is None:
            referral.welcome_voucher = _welcome_coupon(user)
            referral.save(update_fields=["welcome_voucher"])
    if referral.welcome_voucher_id:
        in_basket = _put_in_basket(request, user, referral.welcome_voucher)
        if hasattr(request, "_messages"):
            text = (
                _("Welcome! Your friend's gift, coupon %(code)s, is in your basket until %(day)s.")
                if in_basket
                else _("Welcome! Your friend's gift: coupon %(code)s, valid until %(day)s.")
            )
            messages.success(
                request,
                text
                % {
                    "code": referral.welcome_voucher.code,
                    "day": formats.date_format(referral.welcome_voucher.end_datetime),
                },
            )
    return referral


def _put_in_basket(request, user, voucher) -> bool:
    """The welcome coupon goes into the new customer's basket, so nothing needs typing.

    The visitor's basket (merged into the customer's by Oscar on the next
    request), or the customer's own. It discounts once the basket has what it
    applies to; checkout takes it out, unused, if it gives nothing. A failure
    here only leaves the coupon to be used by hand (Rewards page).
    """
    try:
        basket = getattr(request, "basket", None) if request is not None else None
        if basket is None or not basket.id:
            basket = Basket.open.filter(owner=user).first() or Basket.objects.create(owner=user)
        with transaction.atomic():
            basket.vouchers.add(voucher)
        return True
    except Exception:
        logger.exception("oscar_loyalty: the welcome coupon could not go into the basket")
        return False


def _welcome_coupon(user):
    config = loyalty_settings.REFERRAL_WELCOME_COUPON
    now = timezone.now()
    code = "WELCOME-" + random_characters(DEFAULT_LENGTH)  # as hard to guess as other codes
    return save_coupon(
        CouponSpec(
            name=f"Welcome {user.pk}",
            code=code,
            kind=FIXED if config.get("kind") == "fixed" else PERCENTAGE,
            value=config["value"],
            start=now,
            end=now + timedelta(days=config.get("days", 30)),
            usage=Voucher.SINGLE_USE,
            personal=True,
        )
    )


def first_order_placed(order) -> PendingAward | None:
    """The referred customer's first order: the referrer's award waits for its return window."""
    referral = (
        Referral.objects.filter(referred_id=order.user_id, status=Referral.Status.ACTIVE)
        .select_related("referrer")
        .first()
    )
    if referral is None or referral.awards.exists():
        return None
    if Order.objects.filter(user_id=order.user_id).exclude(pk=order.pk).exists():
        return None
    # The referrer's account is locked before the monthly cap is counted, so two
    # friends' first orders processed at once are counted one after the other.
    account = ledger.get_account(referral.referrer)
    Account.objects.select_for_update().filter(pk=account.pk).first()
    reason = get_referral_rules().refuse_reward(referral, order)
    if reason:
        Referral.objects.filter(pk=referral.pk).update(
            status=Referral.Status.REJECTED, reason=reason
        )
        return None
    points = loyalty_settings.REFERRAL_POINTS
    # What qualified the order, replayed by refunds: later setting changes never void it.
    award = PendingAward.objects.create(
        order=order,
        referral=referral,
        account=account,
        points=points,
        original_points=points,
        line_values={str(line.pk): str(line.line_price_incl_tax) for line in order.lines.all()},
        qualifying_total=order.total_incl_tax,
        minimum_order=loyalty_settings.REFERRAL_MIN_ORDER,
        matures_at=(order.date_placed or timezone.now())
        + timedelta(days=loyalty_settings.RETURN_WINDOW_DAYS),
    )
    signals.send_on_commit(signals.referral_rewarded, Referral, referral=referral, award=award)
    return award


def void(referral, staff_user) -> None:
    """Staff void a referral: no reward, and what was earned is taken back."""
    with transaction.atomic():
        Referral.objects.filter(pk=referral.pk).update(
            status=Referral.Status.VOID, reason=_("Voided by %(staff)s") % {"staff": staff_user}
        )
        for award in PendingAward.objects.select_for_update().filter(referral=referral):
            if award.status == PendingAward.Status.PENDING:
                award.status = PendingAward.Status.VOID
                award.save(update_fields=["status"])
            elif award.status == PendingAward.Status.EARNED:
                take_back(award, 0)


def figures(user) -> dict:
    code = ReferralCode.objects.filter(user=user).first()
    made = Referral.objects.filter(referrer=user)
    return {
        "visits": code.visits if code else 0,
        "signups": made.exclude(status=Referral.Status.REJECTED).count(),
        "rewarded": PendingAward.objects.filter(
            referral__referrer=user, status=PendingAward.Status.EARNED
        ).count(),
    }


def invitation_text() -> str:
    """What a shared referral link says before the link."""
    return _("Here is a gift for your first order at %(shop)s:") % {
        "shop": settings.OSCAR_SHOP_NAME
    }


def share_links(url, text) -> dict:
    """Links that share ``url`` without any third-party script on the page."""
    return {
        "email": f"mailto:?subject={quote(text)}&body={quote(text + ' ' + url)}",
        "whatsapp": f"https://wa.me/?text={quote(text + ' ' + url)}",
        "facebook": f"https://www.facebook.com/sharer/sharer.php?u={quote(url)}",
        "x": f"https://twitter.com/intent/tweet?text={quote(text)}&url={quote(url)}",
    }
