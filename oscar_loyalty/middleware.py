"""Coupons in the basket: expired ones taken out, and one way in for every code.

``ExpiredCouponMiddleware``: Oscar ignores an expired voucher silently when it
prices a basket, and drops it when the order is placed; the customer deserves
to be told.

``CouponLimitMiddleware``: Oscar's own "add voucher" view (``basket:vouchers-add``)
stays routed, and a store's basket template may still post to it. This sends
such requests to the plugin's coupon view, so every route that adds a voucher
by its code has the same limit on guessing and the same answers. A middleware
rather than a URL: it catches Oscar's view wherever the store's URLs put it
(forked basket apps included), whatever the order of the URL patterns, and
nothing of Oscar is forked.

Add both after Oscar's ``BasketMiddleware``.
"""

from django.apps import apps
from django.contrib import messages
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.apps.basket.views import VoucherAddView
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


class CouponLimitMiddleware:
    """Sends requests for any view derived from Oscar's VoucherAddView to the coupon view
    (the one the app config sets, so a store's own coupon view is used here too)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.coupon_view_class = apps.get_app_config("oscar_loyalty").coupon_add_view
        self.coupon_view = self.coupon_view_class.as_view()

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        view_class = getattr(view_func, "view_class", None)
        if (
            view_class is None
            or not issubclass(view_class, VoucherAddView)
            or issubclass(view_class, self.coupon_view_class)
        ):
            return None
        return self.coupon_view(request)
