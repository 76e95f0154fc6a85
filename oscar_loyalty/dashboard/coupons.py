"""What the coupon list shows of each coupon: its discount in words, dates, uses and limit.

Read in a constant number of queries whatever the number of rows (the page's
vouchers, then their offers with benefit, condition and range, then the
ranges' brand exclusions), never one query a row.
"""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _
from oscar.core.loading import get_model
from oscar.templatetags.currency_filters import currency

ConditionalOffer = get_model("offer", "ConditionalOffer")
Benefit = get_model("offer", "Benefit")
Condition = get_model("offer", "Condition")


def search(vouchers: QuerySet, text: str) -> QuerySet:
    """Vouchers whose code or name contains ``text`` (any case)."""
    text = text.strip()
    if not text:
        return vouchers
    return vouchers.filter(Q(code__icontains=text) | Q(name__icontains=text))


def with_offers(vouchers: QuerySet) -> QuerySet:
    """``vouchers`` with what the list shows, prefetched once for the whole page."""
    offers = ConditionalOffer.objects.select_related("benefit", "condition__range").order_by("pk")
    return vouchers.annotate(n_offers=Count("offers")).prefetch_related(
        Prefetch("offers", queryset=offers, to_attr="listed_offers"),
        "listed_offers__condition__range__brand_exclusions",
    )


def discount_text(offer) -> str:
    """An offer's discount as a merchant says it: "15% off", "$5.00 off", "Free shipping",
    with the minimum basket and the brands it never discounts."""
    benefit, condition = offer.benefit, offer.condition
    if benefit.proxy_class:  # a points voucher: its value, within the points' share
        text = _("up to %(value)s off") % {"value": currency(benefit.value)}
    elif benefit.type == Benefit.PERCENTAGE:
        text = _("%(value)s%% off") % {"value": _number(benefit.value)}
    elif benefit.type == Benefit.FIXED:
        text = _("%(value)s off") % {"value": currency(benefit.value)}
    elif benefit.type == Benefit.SHIPPING_PERCENTAGE and benefit.value >= 100:
        text = _("Free shipping")
    else:
        text = str(benefit.description)
    parts = [text]
    if condition.type == Condition.VALUE and condition.value:
        parts.append(_("on baskets of %(value)s or more") % {"value": currency(condition.value)})
    brands = (
        sorted(b.brand for b in condition.range.brand_exclusions.all()) if condition.range else []
    )
    if brands:
        parts.append(_("not on %(brands)s") % {"brands": ", ".join(brands)})
    return ", ".join(parts)


def _number(value) -> str:
    """15.00 -> "15", 12.50 -> "12.5"."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def rows(vouchers) -> list[dict]:
    """The page's coupons with their discounts and usage limit, from the prefetched offers."""
    listed = []
    for voucher in vouchers:
        offers = voucher.listed_offers
        limits = [o.max_global_applications for o in offers if o.max_global_applications]
        listed.append(
            {
                "voucher": voucher,
                "discounts": [discount_text(o) for o in offers],
                "limit": min(limits) if limits else None,
            }
        )
    return listed
