"""What the customer sees of the program while shopping.

"Earn N points" on a product and in the basket (worked out by the store's
earning rule, so campaigns and any rule of the store's count), what joining
gives a visitor, the referred friend's gift in money, and the names the basket
shows for points and reward vouchers.

These run inside Oscar's pages: each costs a constant number of queries, and
``quietly`` makes a failure here log and show nothing rather than break the
page. Nothing here writes.
"""

import functools
import logging
from decimal import Decimal

from django.conf import settings
from django.utils.html import format_html
from django.utils.translation import gettext as _
from oscar.templatetags.currency_filters import currency

from .conf import loyalty_settings
from .earning import EarningRule, Estimate, get_earning_rule
from .i18n import translated
from .models import Redemption, Referral
from .redemption import point_value
from .referrals import code_from_cookie

logger = logging.getLogger(__name__)


def quietly(fn):
    """Log any error of ``fn`` and return None: a shop's page never breaks for loyalty."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:
            logger.exception("oscar_loyalty: %s failed; nothing shown", fn.__name__)
            return None

    return wrapper


def rule_for(request) -> EarningRule:
    """One earning rule a request, so its campaigns are read once a page."""
    rule = getattr(request, "_loyalty_earning_rule", None)
    if rule is None:
        rule = get_earning_rule()
        if request is not None:
            request._loyalty_earning_rule = rule
    return rule


def worth(points: int, currency_code: str) -> str | None:
    """What ``points`` pay when spent, in ``currency_code`` ("$8.00"); None where they cannot."""
    value = point_value(currency_code)
    if value is None:
        return None
    return currency(points * value, currency_code)


def describe(estimate: Estimate | None, currency_code: str, user) -> dict | None:
    """An estimate as the templates show it; None when it earns nothing."""
    if estimate is None or estimate.points <= 0:
        return None
    return {
        "points": estimate.points,
        # Points are spent in the shop's currency where this one has no value.
        "worth": worth(estimate.points, currency_code)
        or worth(estimate.points, settings.OSCAR_DEFAULT_CURRENCY),
        "campaigns": estimate.campaigns,
        "member": bool(getattr(user, "is_authenticated", False)),
        "welcome_bonus": loyalty_settings.WELCOME_BONUS_POINTS,
    }


@quietly
def product_earning(request, product) -> dict | None:
    """What one unit of ``product`` earns at the price this visitor sees."""
    if product is None or product.is_parent:
        return None
    strategy = getattr(request, "strategy", None)
    if strategy is None:
        return None
    info = strategy.fetch_for_product(product)
    if not info.price.exists or not info.availability.is_available_to_buy:
        return None
    estimate = rule_for(request).product_estimate(product, info.price, request.user)
    return describe(estimate, info.price.currency, request.user)


@quietly
def basket_earning(request, basket) -> dict | None:
    """What the basket earns as it stands, after its coupons and points."""
    if basket is None or not basket.id or basket.is_empty:
        return None
    user = getattr(request, "user", None)
    estimate = rule_for(request).basket_estimate(basket, user)
    return describe(estimate, basket.currency, user)


def gift_text() -> str:
    """The referred friend's welcome coupon in money: "10% off your first order ($5.00 off ...)"."""
    config = loyalty_settings.REFERRAL_WELCOME_COUPON
    value = Decimal(config["value"])
    code = settings.OSCAR_DEFAULT_CURRENCY
    if config.get("kind") == "fixed":
        return _("%(value)s off your first order") % {"value": currency(value, code)}
    example = loyalty_settings.REFERRAL_MIN_ORDER
    return _("%(percent)s%% off your first order (%(value)s off an order of %(example)s)") % {
        "percent": f"{value.normalize():f}",
        "value": currency((example * value / 100).quantize(Decimal("0.01")), code),
        "example": currency(example, code),
    }


def inviter_name(user) -> str:
    """How a friend is named to the one they invited: first name only, never the email."""
    return (user.first_name or "").strip().split(" ")[0] or _("A friend")


@quietly
def invitation(request) -> dict | None:
    """The referral this visitor arrived through (from the signed cookie), for the pages."""
    if request is None or getattr(request.user, "is_authenticated", False):
        return None
    code = code_from_cookie(request)
    if code is None:
        return None
    return {"inviter": inviter_name(code.user), "gift": gift_text()}


def welcome_message(inviter: str, signup_url: str) -> str:
    """The banner a friend's link lands on: who invited them, the gift, where to sign up."""
    return format_html(
        '{} <a href="{}" class="alert-link">{}</a>',
        _("%(name)s invited you: sign up and get %(gift)s.")
        % {"name": inviter, "gift": gift_text()},
        signup_url,
        _("Sign up"),
    )


@quietly
def welcome_gift(user):
    """The referred customer's welcome coupon (an Oscar voucher), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    referral = (
        Referral.objects.filter(referred=user, welcome_voucher__isnull=False)
        .select_related("welcome_voucher")
        .first()
    )
    return referral.welcome_voucher if referral else None


@quietly
def voucher_labels(basket) -> dict[int, str]:
    """Labels for the basket's own vouchers, by voucher id, in two queries.

    A points voucher reads "Points (10)", a reward "Reward: Free shipping", a
    referred friend's coupon "Your welcome gift (WELCOME-...)"; store coupons
    keep Oscar's name and code.
    """
    if basket is None or not basket.id:
        return {}
    labels = {}
    vouchers = basket.vouchers.all()
    for voucher_id, code in Referral.objects.filter(welcome_voucher__in=vouchers).values_list(
        "welcome_voucher_id", "welcome_voucher__code"
    ):
        labels[voucher_id] = _("Your welcome gift (%(code)s)") % {"code": code}
    for voucher_id, points, reward, names in Redemption.objects.filter(
        voucher__in=vouchers
    ).values_list("voucher_id", "points", "reward__name", "reward__name_translations"):
        if reward:
            labels[voucher_id] = _("Reward: %(name)s") % {"name": translated(names or {}, reward)}
        else:
            labels[voucher_id] = _("Points (%(points)d)") % {"points": points}
    return labels
