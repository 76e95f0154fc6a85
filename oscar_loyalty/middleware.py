"""The basket kept honest on basket and checkout pages, and one way in for every code.

``BasketCheckMiddleware``, before a basket or checkout page runs, with a
message for each change:

* expired coupons leave the basket (Oscar ignores them silently when it prices
  a basket, and drops them when the order is placed);
* a points voucher that would pay more than points may (the basket shrank, or
  a coupon was added) keeps what fits and gives the rest back;
* on checkout pages, vouchers that give the basket no discount leave it, so
  the order does not record them as used (a single-use code stays usable).

Not on the thank-you page: its order is placed, and the customer's basket is a
new one that the page never uses; loading it there would create it (seven
queries, bench/load.py found them).

A change on a checkout form's submission sends the customer back to the same
page to see the new total, rather than placing an order they did not see.

``CouponLimitMiddleware``: Oscar's own "add voucher" view (``basket:vouchers-add``)
stays routed, and a store's basket template may still post to it. This sends
such requests to the plugin's coupon view, so every route that adds a voucher
by its code has the same limit on guessing and the same answers. A middleware
rather than a URL: it catches Oscar's view wherever the store's URLs put it
(forked basket apps included), whatever the order of the URL patterns, and
nothing of Oscar is forked.

Add both after Oscar's ``BasketMiddleware``. Both let every request through
untouched while ``OSCAR_LOYALTY_HOOKS`` is off.
"""

from django.apps import apps
from django.contrib import messages
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.apps.basket.views import VoucherAddView
from oscar.core.loading import get_class
from oscar.templatetags.currency_filters import currency

from . import redemption
from .conf import loyalty_settings
from .coupons.applying import when
from .models import Redemption

Applicator = get_class("offer.applicator", "Applicator")
ThankYouView = get_class("checkout.views", "ThankYouView")
NAMESPACES = {"basket", "checkout"}


class BasketCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not loyalty_settings.HOOKS:
            return None
        match = request.resolver_match
        namespaces = set(match.namespaces) if match else set()
        if not NAMESPACES & namespaces or _is_thank_you(view_func):
            return None
        basket = getattr(request, "basket", None)
        if basket is None or not basket.id:
            return None
        checkout = "checkout" in namespaces
        changed = remove_expired(request, basket)
        changed = fit_points(request, basket) or changed
        if checkout:
            changed = remove_unused(request, basket) or changed
        if changed and checkout and request.method == "POST":
            return redirect(request.get_full_path())
        return None


def _is_thank_you(view_func) -> bool:
    view_class = getattr(view_func, "view_class", None)
    return view_class is not None and issubclass(view_class, ThankYouView)


def reprice(request, basket):
    basket.reset_offer_applications()
    Applicator().apply(basket, request.user, request)


def remove_expired(request, basket) -> bool:
    now = timezone.now()
    expired = [v for v in basket.vouchers.all() if v.end_datetime and v.end_datetime <= now]
    if not expired:
        return False
    basket.vouchers.remove(*expired)
    for voucher in expired:
        messages.warning(
            request,
            _("Coupon %(code)s expired on %(date)s and was removed from your basket.")
            % {"code": voucher.code, "date": when(voucher.end_datetime)},
        )
    reprice(request, basket)
    return True


def fit_points(request, basket) -> bool:
    fitted = redemption.fit_to_basket(basket)
    if fitted is None:
        return False
    used, given = fitted
    if used.status == Redemption.Status.RESTORED:
        text = _(
            "Your basket changed and points can no longer pay for any of it: "
            "your %(given)d points are back in your account."
        ) % {"given": given}
    else:
        text = _(
            "Your basket changed, so your points now pay %(value)s of it "
            "(at most %(share)s of what is left after coupons): "
            "%(given)d points are back in your account."
        ) % {"value": currency(used.value), "share": redemption.share_text(), "given": given}
    messages.info(request, text)
    reprice(request, basket)
    return True


def remove_unused(request, basket) -> bool:
    """Take out vouchers that give the basket nothing, before the order records them."""
    applied = {d["voucher"].pk for d in basket.offer_applications if d["voucher"]}
    unused = [v for v in basket.vouchers.all() if v.pk not in applied]
    if not unused:
        return False
    for voucher in unused:
        if redemption.restore_unused_voucher(voucher):
            messages.info(
                request,
                _("Your points voucher gives this basket no discount: its points are back."),
            )
        else:
            basket.vouchers.remove(voucher)
            messages.warning(
                request,
                _(
                    "Coupon %(code)s gives this basket no discount, so it was taken out "
                    "and stays unused."
                )
                % {"code": voucher.code},
            )
    reprice(request, basket)
    return True


# The name this middleware had when it only took out expired coupons.
ExpiredCouponMiddleware = BasketCheckMiddleware


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
            not loyalty_settings.HOOKS
            or view_class is None
            or not issubclass(view_class, VoucherAddView)
            or issubclass(view_class, self.coupon_view_class)
        ):
            return None
        return self.coupon_view(request)
