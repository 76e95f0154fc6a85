import csv

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Q
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import generic
from oscar.core.loading import get_model

from ..coupons import codes
from ..coupons.creation import offer_of, save_coupon
from ..models import Referral, Reward
from .forms import BulkCodesForm, CouponForm, RewardForm, initial_for

Voucher = get_model("voucher", "Voucher")
VoucherSet = get_model("voucher", "VoucherSet")


def system_vouchers():
    """Vouchers the plugin made for one customer: points, reward and welcome codes.

    They share ranges (every points voucher uses "All products (loyalty)"), so
    the coupon pages list them read-only and never edit them.
    """
    welcome = Referral.objects.exclude(welcome_voucher=None).values("welcome_voucher")
    return Voucher.objects.filter(Q(loyalty_redemption__isnull=False) | Q(pk__in=welcome))


def merchant_coupons():
    """The shop's own coupons: single vouchers, not in a set, not made for one customer."""
    return Voucher.objects.filter(voucher_set__isnull=True).exclude(
        pk__in=system_vouchers().values("pk")
    )


class CouponListView(generic.ListView):
    """The shop's coupons with how often each was used; ``?system=1``: customers' codes."""

    template_name = "oscar_loyalty/dashboard/coupon_list.html"
    context_object_name = "coupons"
    paginate_by = settings.OSCAR_DASHBOARD_ITEMS_PER_PAGE

    def showing_system(self):
        return self.request.GET.get("system") == "1"

    def get_queryset(self):
        vouchers = system_vouchers() if self.showing_system() else merchant_coupons()
        return vouchers.annotate(n_offers=Count("offers")).order_by("-date_created")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "showing_system": self.showing_system()}


class CouponFormView(generic.FormView):
    form_class = CouponForm
    template_name = "oscar_loyalty/dashboard/coupon_form.html"
    voucher = None

    def get_initial(self):
        return initial_for(self.voucher) if self.voucher else {}

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "voucher": self.voucher}

    def form_valid(self, form):
        voucher = save_coupon(form.spec(), self.voucher)
        messages.success(self.request, _("Coupon %(code)s saved.") % {"code": voucher.code})
        return redirect("loyalty-dashboard:coupon-list")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "voucher": self.voucher}


class CouponCreateView(CouponFormView):
    pass


class CouponUpdateView(CouponFormView):
    def dispatch(self, request, *args, **kwargs):
        self.voucher = get_object_or_404(merchant_coupons(), pk=kwargs["pk"])
        if self.voucher.offers.count() != 1:
            messages.warning(
                request, _("This voucher has several offers: edit it in the Vouchers pages.")
            )
            return redirect("dashboard:voucher-update", pk=self.voucher.pk)
        return super().dispatch(request, *args, **kwargs)


class RewardListView(generic.ListView):
    model = Reward
    template_name = "oscar_loyalty/dashboard/reward_list.html"
    context_object_name = "rewards"
    paginate_by = settings.OSCAR_DASHBOARD_ITEMS_PER_PAGE


class RewardFormMixin:
    model = Reward
    form_class = RewardForm
    template_name = "oscar_loyalty/dashboard/reward_form.html"

    def form_valid(self, form):
        reward = form.save()
        messages.success(self.request, _("Reward %(name)s saved.") % {"name": reward.name})
        return redirect("loyalty-dashboard:reward-list")


class RewardCreateView(RewardFormMixin, generic.CreateView):
    pass


class RewardUpdateView(RewardFormMixin, generic.UpdateView):
    pass


class CouponCodesView(generic.FormView):
    """Generate a campaign of unique codes with this coupon's discount, as a CSV file."""

    form_class = BulkCodesForm
    template_name = "oscar_loyalty/dashboard/coupon_codes.html"

    def dispatch(self, request, *args, **kwargs):
        self.coupon = get_object_or_404(merchant_coupons(), pk=kwargs["pk"])
        self.offer = offer_of(self.coupon)
        if self.offer is None:
            messages.error(
                request, _("This voucher has no offer: give it one in the Vouchers pages first.")
            )
            return redirect("loyalty-dashboard:coupon-list")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "voucher": self.coupon}

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            # One transaction: a campaign that cannot be made leaves no empty set behind.
            with transaction.atomic():
                campaign = VoucherSet.objects.create(
                    name=f"{self.coupon.code} {timezone.now():%Y-%m-%d %H:%M:%S}",
                    count=0,
                    start_datetime=self.coupon.start_datetime,
                    end_datetime=self.coupon.end_datetime,
                )
                codes.generate_codes(
                    campaign,
                    data["count"],
                    prefix=data["prefix"],
                    usage=data["usage"],
                    offers=[self.offer],
                )
        except ValueError as exc:
            form.add_error(None, forms.ValidationError(str(exc)))
            return self.form_invalid(form)
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in codes.csv_rows(campaign)), content_type="text/csv"
        )
        response["Content-Disposition"] = f'attachment; filename="codes-{campaign.pk}.csv"'
        return response


class _Echo:
    """A file-like object whose write returns the line, for streaming CSV."""

    def write(self, value):
        return value
