"""What happens when a customer types a coupon code: the rules, not the view.

Every refusal has its own clear message, except that unknown and malformed
codes, and personal codes typed by anyone but their owner, get the same one,
so codes cannot be told apart by guessing. Guessing is also limited (see
``limits``): past the limit, every code is refused until the window has passed.
"""

import re
import unicodedata

from django.utils import formats, timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from oscar.core.loading import get_class, get_model
from oscar.templatetags.currency_filters import currency

from ..exceptions import CouponRefused
from ..models import OwnerCondition
from .brands import brands_of

Voucher = get_model("voucher", "Voucher")
Condition = get_model("offer", "Condition")
Applicator = get_class("offer.applicator", "Applicator")

CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,63}$")


def normalise(raw) -> str | None:
    """The code as stored (upper case, no look-alikes, trimmed), or None if it cannot be one."""
    if not isinstance(raw, str) or len(raw) > 256:
        return None
    code = unicodedata.normalize("NFKC", raw).strip().upper()
    return code if CODE.match(code) else None


def not_valid():
    return CouponRefused(_("This code is not valid."))


# Throttling ----------------------------------------------------------------


def throttled():
    return CouponRefused(_("Too many attempts with coupon codes. Please try again later."))


# The checks ----------------------------------------------------------------


def find(code, user) -> Voucher:
    """The voucher with this code, unless there is none or it is someone else's personal one."""
    voucher = (
        Voucher._default_manager.filter(code=code).prefetch_related("offers__condition").first()
    )
    if voucher is None:
        raise not_valid()
    if OwnerCondition.binds(voucher) and not OwnerCondition.owns(voucher, user.pk):
        raise not_valid()
    return voucher


def check_usable(voucher, user, now=None) -> None:
    """Refuse an expired, not yet valid or used-up coupon, with the reason."""
    now = now or timezone.now()
    if voucher.end_datetime and now >= voucher.end_datetime:
        raise CouponRefused(
            _("This coupon expired on %(date)s") % {"date": when(voucher.end_datetime)}
        )
    if voucher.start_datetime and now < voucher.start_datetime:
        raise CouponRefused(
            _("This coupon is valid from %(date)s") % {"date": when(voucher.start_datetime)}
        )
    offers = list(voucher.offers.all())
    if not offers or not any(offer.is_available(user=user) for offer in offers):
        raise CouponRefused(_("This coupon has been used up."))
    if voucher.usage == Voucher.SINGLE_USE and voucher.applications.exists():
        raise CouponRefused(_("This coupon has been used up."))
    if voucher.usage == Voucher.ONCE_PER_CUSTOMER:
        if not user.is_authenticated:
            raise CouponRefused(_("Please sign in to use this coupon."))
        if voucher.applications.filter(user=user).exists():
            raise CouponRefused(_("You have already used this coupon."))


def why_no_discount(voucher, basket) -> str:
    """The reason a usable coupon gave this basket nothing, in the customer's words."""
    for offer in voucher.offers.all():
        condition = offer.condition
        if condition.type == Condition.VALUE and not offer.is_condition_satisfied(basket):
            return _("Spend at least %(amount)s on eligible products to use this coupon.") % {
                "amount": currency(condition.value, basket.currency)
            }
    excluded = excluded_brands(voucher, basket)
    if excluded:
        return _(
            "Nothing in your basket is eligible: this coupon does not apply to %(brands)s."
        ) % {"brands": get_text_list(sorted(excluded), _("and"))}
    return _("Nothing in your basket is eligible for this coupon.")


def excluded_brands(voucher, basket) -> set[str]:
    """Brands of basket products that the coupon's ranges exclude."""
    products = [line.product for line in basket.all_lines()]
    brands = brands_of(products)
    names = set()
    for offer in voucher.offers.all():
        excluded = {e.brand.lower() for e in offer.benefit.range.brand_exclusions.all()}
        names |= {brands[p.pk] for p in products if brands.get(p.pk, "").lower() in excluded}
    return names


def excluded_lines(basket) -> list[tuple]:
    """[(line, coupon code, brand or None)]: basket lines a coupon in it does not discount."""
    rows = []
    vouchers = list(basket.vouchers.prefetch_related("offers__benefit__range"))
    if not vouchers:
        return rows
    lines = list(basket.all_lines())
    brands = brands_of([line.product for line in lines])
    for voucher in vouchers:
        for offer in voucher.offers.all():
            range_ = offer.benefit.range
            if range_ is None:  # shipping offers discount no line
                continue
            inside = set(
                range_.all_products()
                .filter(pk__in=[line.product.pk for line in lines])
                .values_list("pk", flat=True)
            )
            rows += [
                (line, voucher.code, brands.get(line.product.pk))
                for line in lines
                if line.product.pk not in inside
            ]
    return rows


def when(value):
    """A date and time as the customer's language writes them."""
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
