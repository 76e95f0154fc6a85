"""Takes expired coupons out of baskets, with a message, on basket and checkout pages.

Oscar ignores an expired voucher silently when it prices a basket, and drops it
when the order is placed; the customer deserves to be told. Add it after
Oscar's ``BasketMiddleware``.
"""

from django.contrib import messages
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_class

from .coupons.applying import when

Applicator = get_class("offer.applicator", "Applicator")
NAMESPACES = {"basket", "checkout"}


class ExpiredCouponMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or not NAMESPACES & set(match.namespaces):
            return None
        basket = getattr(request, "basket", None)
        if basket is None or not basket.id:
            return None
        now = timezone.now()
        expired = [v for v in basket.vouchers.all() if v.end_datetime and v.end_datetime <= now]
        if not expired:
            return None
        basket.vouchers.remove(*expired)
        for voucher in expired:
            messages.warning(
                request,
                _("Coupon %(code)s expired on %(date)s and was removed from your basket.")
                % {"code": voucher.code, "date": when(voucher.end_datetime)},
            )
        basket.reset_offer_applications()
        Applicator().apply(basket, request.user, request)
        return None
