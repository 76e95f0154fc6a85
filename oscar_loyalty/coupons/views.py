from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_class
from oscar.core.utils import redirect_to_referrer

from . import applying, limits

OscarVoucherAddView = get_class("basket.views", "VoucherAddView")
Applicator = get_class("offer.applicator", "Applicator")


class CouponForm(forms.Form):
    # Any text is let through, to be refused with the same message as an
    # unknown code, rather than a form error that would tell them apart.
    code = forms.CharField(label=_("Code"), strip=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].validators = []  # CharField refuses NUL characters by default


class CouponAddView(OscarVoucherAddView):
    """Oscar's "add voucher" view, with clearer refusals and a limit on guessing.

    Every route that adds a voucher to a basket by its code ends here: this
    one, and Oscar's ``basket:vouchers-add`` (``middleware.CouponLimitMiddleware``).
    """

    form_class = CouponForm

    def form_valid(self, form):
        basket = self.request.basket
        try:
            if limits.is_throttled(self.request):
                messages.error(self.request, applying.throttled().message)
                return self.back()
            code = applying.normalise(form.cleaned_data["code"])
            if code is None:
                raise applying.not_valid()
            voucher = applying.find(code, self.request.user)
            if basket.id and basket.contains_voucher(code):
                raise applying.CouponRefused(_("This coupon is already in your basket."))
            applying.check_usable(voucher, self.request.user)
            if not basket.id:
                basket.save()
            self.add_to_basket(voucher)
        except applying.CouponRefused as refusal:
            limits.record_failure(self.request)
            messages.error(self.request, refusal.message)
        return self.back()

    def form_invalid(self, form):
        messages.error(self.request, _("Please enter a coupon code."))
        return self.back()

    def back(self):
        """To the page the form names in ``next`` (the Rewards page's "use in basket"
        sends the customer to the basket), if it is on this site; else where they came from."""
        target = self.request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={self.request.get_host()}, require_https=self.request.is_secure()
        ):
            return redirect(target)
        return redirect_to_referrer(self.request, "basket:summary")

    def add_to_basket(self, voucher):
        basket = self.request.basket
        basket.vouchers.add(voucher)
        self.add_signal.send(sender=self, basket=basket, voucher=voucher)
        basket.reset_offer_applications()
        Applicator().apply(basket, self.request.user, self.request)
        if not any(d["voucher"] == voucher for d in basket.offer_applications):
            basket.vouchers.remove(voucher)
            raise applying.CouponRefused(applying.why_no_discount(voucher, basket))
        messages.success(
            self.request, _("Coupon %(code)s applied to your basket.") % {"code": voucher.code}
        )
