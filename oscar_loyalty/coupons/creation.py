"""A coupon, as a merchant thinks of it, made of Oscar's own pieces.

One coupon is an Oscar ``Voucher`` with one voucher ``ConditionalOffer``, its
``Range`` (all products, minus excluded categories, products and brands), a
``Condition`` (a minimum basket value, or any one item) and a ``Benefit``
(a percentage, a fixed amount, or free shipping). Oscar prices, records and
reports it like any voucher; its dashboard can still edit every piece.

Oscar's dashboard renders range names as HTML (offer descriptions are marked
safe), so the pieces are named from the code, never from the free-text name.
A personal coupon (a referred friend's welcome coupon) has the owner-only
condition of the points vouchers: it gives nothing in anyone else's basket.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from oscar.core.loading import get_model

from ..models import OwnerCondition
from . import brands
from .applying import CODE

Voucher = get_model("voucher", "Voucher")
ConditionalOffer = get_model("offer", "ConditionalOffer")
Range = get_model("offer", "Range")
Condition = get_model("offer", "Condition")
Benefit = get_model("offer", "Benefit")

PERCENTAGE, FIXED, FREE_SHIPPING = "percentage", "fixed", "free_shipping"
BENEFIT_TYPES = {
    PERCENTAGE: Benefit.PERCENTAGE,
    FIXED: Benefit.FIXED,
    FREE_SHIPPING: Benefit.SHIPPING_PERCENTAGE,
}


@dataclass
class CouponSpec:
    name: str
    code: str
    kind: str
    value: Decimal
    start: datetime
    end: datetime
    usage: str = Voucher.MULTI_USE
    max_uses: int | None = None
    minimum: Decimal | None = None
    excluded_brands: list[str] = field(default_factory=list)
    excluded_categories: list = field(default_factory=list)
    excluded_products: list = field(default_factory=list)
    personal: bool = False


def offer_of(voucher):
    return voucher.offers.select_related("benefit__range", "condition").first()


@transaction.atomic
def save_coupon(spec: CouponSpec, voucher=None) -> Voucher:
    """Create the coupon, or update ``voucher`` (made by this function) to match ``spec``.

    ValueError, and nothing saved, for a code that is not letters, digits, - and
    _, or a personal coupon with a minimum basket value.
    """
    code = spec.code.strip().upper()
    if not CODE.match(code):
        raise ValueError(f"{spec.code!r} is not a coupon code: use letters, digits, - and _.")
    if spec.personal and spec.minimum:
        raise ValueError("A personal coupon cannot have a minimum basket value.")
    offer = offer_of(voucher) if voucher else None
    range_ = offer.benefit.range if offer else Range(includes_all_products=True)
    range_.name = f"Coupon {code}"
    range_.includes_all_products = True
    range_.save()
    range_.excluded_categories.set(spec.excluded_categories)
    # The brands' products are in the same exclusions; set_excluded_brands adds
    # and takes back its own, so keep them as they are here.
    range_.excluded_products.set([*spec.excluded_products, *brands.brand_products(range_)])
    brands.set_excluded_brands(range_, spec.excluded_brands)

    benefit = offer.benefit if offer else Benefit()
    benefit.type = BENEFIT_TYPES[spec.kind]
    benefit.value = Decimal(100) if spec.kind == FREE_SHIPPING else spec.value
    benefit.range = None if spec.kind == FREE_SHIPPING else range_
    benefit.save()

    condition = offer.condition if offer else Condition()
    condition.range = range_
    condition.proxy_class = OwnerCondition.path() if spec.personal else None
    if spec.minimum:
        condition.type, condition.value = Condition.VALUE, spec.minimum
    else:
        condition.type, condition.value = Condition.COUNT, Decimal(1)
    condition.save()

    offer = offer or ConditionalOffer(offer_type=ConditionalOffer.VOUCHER)
    offer.name = f"Coupon {code}"
    offer.condition, offer.benefit = condition, benefit
    offer.max_global_applications = spec.max_uses
    offer.start_datetime, offer.end_datetime = spec.start, spec.end
    offer.save()

    voucher = voucher or Voucher()
    voucher.name = spec.name
    voucher.code = code
    voucher.usage = spec.usage
    voucher.start_datetime, voucher.end_datetime = spec.start, spec.end
    voucher.save()
    voucher.offers.set([offer])
    return voucher
