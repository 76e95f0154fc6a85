import csv
import uuid
from datetime import UTC, datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.views import generic
from oscar.core.loading import get_model

from .. import (
    accounting,
    bonus,
    importing,
    kpis,
    privacy,
    referrals,
    segments,
    tasks,
    tiers,
    till,
    winback,
)
from ..coupons import codes
from ..coupons.creation import offer_of, save_coupon
from ..exceptions import KeyReused, LoyaltyError
from ..models import (
    Account,
    BonusAction,
    BonusCampaign,
    ImportRun,
    Referral,
    Reward,
    Segment,
    Tier,
    WinBackCampaign,
    WinBackCoupon,
)
from ..views import json_download
from . import charts, records, service
from . import coupons as coupon_rows
from .forms import (
    AccountingForm,
    AdjustPointsForm,
    AtRiskForm,
    BonusActionForm,
    BonusCampaignForm,
    BulkCodesForm,
    CouponForm,
    CouponSearchForm,
    CustomerSearchForm,
    EraseForm,
    ImportForm,
    InStorePurchaseForm,
    InStoreRewardForm,
    MoveTierForm,
    PeriodForm,
    RewardForm,
    SegmentForm,
    TierForm,
    WinBackCampaignForm,
    initial_for,
)

Voucher = get_model("voucher", "Voucher")
VoucherSet = get_model("voucher", "VoucherSet")
User = get_user_model()


def system_vouchers():
    """Vouchers the plugin made for one customer: points, reward and welcome codes.

    They share ranges (every points voucher uses "All products (loyalty)"), so
    the coupon pages list them read-only and never edit them.
    """
    welcome = Referral.objects.exclude(welcome_voucher=None).values("welcome_voucher")
    winbacks = WinBackCoupon.objects.exclude(voucher=None).values("voucher")
    return Voucher.objects.filter(
        Q(loyalty_redemption__isnull=False) | Q(pk__in=welcome) | Q(pk__in=winbacks)
    )


def merchant_coupons():
    """The shop's own coupons: single vouchers, not in a set, not made for one customer."""
    return Voucher.objects.filter(voucher_set__isnull=True).exclude(
        pk__in=system_vouchers().values("pk")
    )


class CouponListView(generic.ListView):
    """The shop's coupons with their discount, dates, uses and limit, searchable by code or
    name; ``?system=1``: customers' personal codes, read-only."""

    template_name = "oscar_loyalty/dashboard/coupon_list.html"
    context_object_name = "coupons"
    paginate_by = settings.OSCAR_DASHBOARD_ITEMS_PER_PAGE

    def showing_system(self):
        return self.request.GET.get("system") == "1"

    def get_queryset(self):
        self.form = CouponSearchForm(self.request.GET)
        vouchers = system_vouchers() if self.showing_system() else merchant_coupons()
        if self.form.is_valid():
            vouchers = coupon_rows.search(vouchers, self.form.cleaned_data["q"])
        else:
            vouchers = vouchers.none()
        return coupon_rows.with_offers(vouchers).order_by("-date_created", "-pk")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        return {
            **context,
            "rows": coupon_rows.rows(context["object_list"]),
            "form": self.form,
            "showing_system": self.showing_system(),
            "now": timezone.now(),
        }


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
    def get_initial(self):
        return {**super().get_initial(), **RewardForm.proposed_dates()}


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


def _csv_response(rows, filename):
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow([_cell(v) for v in row]) for row in rows), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _cell(value):
    return accounting.csv_cell(value)


# KPIs ------------------------------------------------------------------------


class KpiView(generic.TemplateView):
    """Is the program working? The figures of a chosen period, with charts and a CSV."""

    template_name = "oscar_loyalty/dashboard/kpis.html"

    def get(self, request, *args, **kwargs):
        data = request.GET if request.GET else {"days": PeriodForm.PRESETS[1]}
        self.form = PeriodForm(data)
        if not self.form.is_valid():
            return self.render_to_response(self.get_context_data(form=self.form))
        figures = self.figures(self.form.period())
        if request.GET.get("format") == "csv":
            return _csv_response(self.csv_rows(figures), "loyalty-kpis.csv")
        return self.render_to_response(self.get_context_data(form=self.form, **figures))

    def figures(self, period):
        series = kpis.points_by_day(period)
        points = kpis.points(period, series)
        return {
            "period": period,
            "members": kpis.members(period),
            "points": points,
            "series": series,
            "liability": kpis.liability(),
            "purchases": kpis.purchases(period),
            "referrals": kpis.referrals(period),
            "coupons": kpis.coupons(period),
            "points_chart": charts.daily_bars(
                series,
                [
                    ("issued", _("Issued"), "#2a7ab0"),
                    ("redeemed", _("Redeemed"), "#4caf50"),
                    ("expired", _("Expired"), "#d9534f"),
                ],
                _("Points per day"),
            ),
            "redemption_chart": charts.rate_against(
                points["redemption_rate"],
                [(_("average"), kpis.REDEMPTION_AVERAGE), (_("target"), kpis.REDEMPTION_TARGET)],
                _("Redemption rate"),
            ),
        }

    def csv_rows(self, f):
        period, m, p, li, pu, r = (
            f["period"],
            f["members"],
            f["points"],
            f["liability"],
            f["purchases"],
            f["referrals"],
        )
        yield ["figure", "value"]
        yield ["period_start", period.start]
        yield ["period_end", period.end]
        for key in ("customers", "members", "new_members", "enrolment_rate"):
            yield [key, m[key]]
        for key in ("issued", "redeemed", "expired", "taken_back", "redemption_rate"):
            yield [f"points_{key}", p[key]]
        for key in ("points", "money", "breakage_rate", "net_money", "pending_points"):
            yield [f"liability_{key}", li[key]]
        for group in ("members", "non_members"):
            for key, value in pu[group].items():
                yield [f"{group}_{key}", value]
        for key, value in r.items():
            yield [f"referrals_{key}", value]
        for row in f["coupons"]:
            yield [f"coupon_orders:{row['campaign']}", row["orders"]]
            yield [f"coupon_discount:{row['campaign']}", row["discount"]]
        yield []
        yield ["day", "issued", "redeemed", "expired"]
        for row in f["series"]:
            yield [row["day"], row["issued"], row["redeemed"], row["expired"]]


class AtRiskView(generic.TemplateView):
    """Customers whose one and only order is more than N days old: worth a nudge.

    A page is one query whatever the shop's size and however deep: no total
    is counted (that would group every order of the shop), and "Older" goes
    on from the page's last customer (``after``), not by an offset.
    """

    template_name = "oscar_loyalty/dashboard/at_risk.html"
    paginate_by = settings.OSCAR_DASHBOARD_ITEMS_PER_PAGE

    def get(self, request, *args, **kwargs):
        self.form = AtRiskForm(request.GET or {"days": AtRiskForm.base_fields["days"].initial})
        if request.GET.get("format") == "csv" and self.form.is_valid():
            return _csv_response(self.csv_rows(), "loyalty-at-risk.csv")
        return super().get(request, *args, **kwargs)

    def after(self):
        """The ``after`` parameter: "<order date in microseconds since 1970>.<customer id>"."""
        stamp, _dot, pk = self.request.GET.get("after", "").partition(".")
        if not (stamp.isdigit() and pk.isdigit() and len(stamp) < 18 and len(pk) < 19):
            return None
        try:
            placed = datetime.fromtimestamp(int(stamp) / 1_000_000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
        return placed, int(pk)

    def get_context_data(self, **kwargs):
        context = {**super().get_context_data(**kwargs), "form": self.form, "customers": []}
        if self.form.is_valid():
            after, size = self.after(), self.paginate_by
            rows = kpis.at_risk(self.form.cleaned_data["days"], after=after, limit=size + 1)
            last = rows[size - 1] if len(rows) > size else None
            context.update(
                customers=rows[:size],
                paged=after is not None,
                older=f"{round(last.first_order.timestamp() * 1_000_000)}.{last.pk}"
                if last
                else None,
            )
        return context

    def csv_rows(self):
        yield ["email", "first_name", "last_name", "order_date", "member", "balance"]
        for row in kpis.iter_at_risk(self.form.cleaned_data["days"]):
            yield [
                row.email,
                row.first_name,
                row.last_name,
                timezone.localtime(row.first_order).date(),
                "yes" if row.balance is not None else "no",
                row.balance,
            ]


# Customer service -------------------------------------------------------------


class CustomerListView(generic.ListView):
    """Find a customer by email, name or member number (the points account's number)."""

    template_name = "oscar_loyalty/dashboard/customer_list.html"
    context_object_name = "customers"
    paginate_by = settings.OSCAR_DASHBOARD_ITEMS_PER_PAGE

    def get_queryset(self):
        self.form = CustomerSearchForm(self.request.GET)
        users = User.objects.select_related("loyalty_account").order_by("-date_joined", "-pk")
        if not self.form.is_valid() or not self.form.cleaned_data["q"]:
            return users.none()
        return users.filter(service.search(self.form.cleaned_data["q"]))

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "form": self.form}


class CustomerDetailView(generic.DetailView):
    """One customer's points: balance, pending awards, lots, ledger with reasons, referrals."""

    template_name = "oscar_loyalty/dashboard/customer_detail.html"
    context_object_name = "customer"
    history_size = 50

    def get_queryset(self):
        return User.objects.select_related("loyalty_account")

    def get(self, request, *args, **kwargs):
        if request.GET.get("format") == "csv":
            customer = self.get_object()
            account = Account.objects.filter(user=customer).first()
            rows = service.history_rows(account, language=translation.get_language())
            return _csv_response(rows, f"points-history-{customer.pk}.csv")
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(service.customer_page(self.object, self.history_size))
        context.setdefault("adjust_form", AdjustPointsForm(initial={"token": uuid.uuid4()}))
        context.update(tiers.customer_tiers(context.get("account")))
        context.setdefault(
            "tier_form", MoveTierForm(initial={"tier": getattr(context.get("tier"), "pk", None)})
        )
        return context


class AdjustPointsView(generic.FormView):
    """Staff add or take away points, with a reason the customer reads; audited by staff user."""

    form_class = AdjustPointsForm
    http_method_names = ["post"]

    def dispatch(self, request, *args, **kwargs):
        self.customer = get_object_or_404(User, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            service.adjust(
                self.customer, data["points"], data["reason"], data["token"], self.request.user
            )
        except LoyaltyError as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("%(points)+d points for %(customer)s: %(reason)s")
            % {"points": data["points"], "customer": self.customer.email, "reason": data["reason"]},
        )
        return redirect("loyalty-dashboard:customer-detail", pk=self.customer.pk)

    def form_invalid(self, form):
        view = CustomerDetailView(request=self.request, kwargs={"pk": self.customer.pk})
        view.object = view.get_object()
        context = view.get_context_data(adjust_form=form)
        return view.render_to_response(context, status=400)


class ReferralVoidView(generic.View):
    """Void a referral: no reward, and what the referrer earned for it is taken back."""

    def post(self, request, pk):
        referral = get_object_or_404(Referral, pk=pk)
        if referral.status == Referral.Status.VOID:
            messages.info(request, _("This referral was already voided."))
        else:
            referrals.void(referral, request.user)
            messages.success(request, _("Referral voided."))
        return redirect("loyalty-dashboard:customer-detail", pk=referral.referrer_id)


# Records: what the Django admin lists ------------------------------------------------


class RecordListView(generic.ListView):
    """One of the loyalty tables, read-only, with the admin's search and filters."""

    template_name = "oscar_loyalty/dashboard/records.html"
    paginate_by = settings.OSCAR_DASHBOARD_ITEMS_PER_PAGE

    def dispatch(self, request, *args, **kwargs):
        self.record = records.BY_SLUG.get(kwargs["slug"])
        if self.record is None:
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self):
        return self.record.filtered(self.request.GET)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filters = [
            (option, option.options(), self.request.GET.get(option.name, ""))
            for option in self.record.filters
        ]
        return {
            **context,
            "record": self.record,
            "records": records.RECORDS,
            "headers": [label for label, _cell in self.record.columns],
            "rows": self.record.rows(context["object_list"]),
            "filters": filters,
            "q": self.request.GET.get("q", "")[:128],
        }


# In store ---------------------------------------------------------------------------


class InStoreView(generic.TemplateView):
    """At the counter: points for a purchase paid at the till, a reward handed over.

    Each once per receipt number (``till``'s key), as the till's API does: a
    receipt entered again says so and changes nothing.
    """

    template_name = "oscar_loyalty/dashboard/in_store.html"
    forms = {"purchase": InStorePurchaseForm, "reward": InStoreRewardForm}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for name, form_class in self.forms.items():
            context.setdefault(f"{name}_form", form_class(prefix=name))
        return context

    def post(self, request, *args, **kwargs):
        action = request.POST.get("action")
        if action not in self.forms:
            return redirect("loyalty-dashboard:in-store")
        form = self.forms[action](request.POST, prefix=action)
        if form.is_valid():
            try:
                return getattr(self, f"post_{action}")(form.cleaned_data)
            except KeyReused:
                form.add_error(
                    "receipt",
                    _(
                        "This receipt number was recorded for another customer or amount: "
                        "check the receipt."
                    ),
                )
            except LoyaltyError as exc:
                form.add_error(None, str(exc))
        context = self.get_context_data(**{f"{action}_form": form, "active": action})
        return self.render_to_response(context, status=400)

    def post_purchase(self, data):
        customer, receipt = data["customer"], data["receipt"]
        before = till.recorded("earn", receipt)
        entry = till.award_purchase(
            customer, data["amount"], key=receipt, reference=receipt, staff_user=self.request.user
        )
        return self.done(before, entry, customer, receipt)

    def post_reward(self, data):
        customer, receipt = data["customer"], data["receipt"]
        before = till.recorded("spend", receipt)
        entry = till.redeem_reward(
            customer, data["reward"].pk, key=receipt, staff_user=self.request.user
        )
        return self.done(before, entry, customer, receipt)

    def done(self, before, entry, customer, receipt):
        if before is not None:
            messages.info(
                self.request,
                _("Receipt %(receipt)s was already recorded: nothing changed.")
                % {"receipt": receipt},
            )
        else:
            messages.success(
                self.request,
                _("Receipt %(receipt)s: %(points)+d points for %(customer)s, balance %(balance)d.")
                % {
                    "receipt": receipt,
                    "points": entry.points,
                    "customer": customer.email,
                    "balance": entry.balance_after,
                },
            )
        return redirect("loyalty-dashboard:in-store")


# Bonus campaigns ----------------------------------------------------------------


class CampaignListView(generic.ListView):
    model = BonusCampaign
    queryset = BonusCampaign.objects.select_related("segment")
    template_name = "oscar_loyalty/dashboard/campaign_list.html"
    context_object_name = "campaigns"
    paginate_by = settings.OSCAR_DASHBOARD_ITEMS_PER_PAGE
    ordering = ["-starts_at", "-pk"]


class CampaignFormMixin:
    model = BonusCampaign
    form_class = BonusCampaignForm
    template_name = "oscar_loyalty/dashboard/campaign_form.html"

    def form_valid(self, form):
        campaign = form.save()
        messages.success(self.request, _("Campaign %(name)s saved.") % {"name": campaign.name})
        return redirect("loyalty-dashboard:campaign-list")


class CampaignCreateView(CampaignFormMixin, generic.CreateView):
    pass


class CampaignUpdateView(CampaignFormMixin, generic.UpdateView):
    pass


class CampaignDeleteView(generic.DeleteView):
    model = BonusCampaign
    template_name = "oscar_loyalty/dashboard/campaign_delete.html"
    context_object_name = "campaign"

    def get_success_url(self):
        messages.success(self.request, _("Campaign deleted."))
        return reverse("loyalty-dashboard:campaign-list")


# Customers' data ----------------------------------------------------------------


class CustomerExportView(generic.View):
    """Staff download a customer's loyalty data (JSON), as the customer can; logged."""

    def get(self, request, pk):
        customer = get_object_or_404(User, pk=pk)
        return json_download(privacy.export(customer, request.user, by_staff=True), customer)


class CustomerEraseView(generic.FormView):
    """Erase a customer's loyalty data, once staff typed their email to confirm."""

    form_class = EraseForm
    template_name = "oscar_loyalty/dashboard/customer_erase.html"

    def dispatch(self, request, *args, **kwargs):
        self.customer = get_object_or_404(User, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "email": self.customer.email}

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "customer": self.customer}

    def form_valid(self, form):
        account = privacy.erase(self.customer, requested_by=self.request.user)
        messages.success(
            self.request,
            _(
                "The loyalty data of %(customer)s was erased; the ledger keeps account #%(number)s "
                "without them."
            )
            % {"customer": self.customer.email, "number": account.pk if account else "-"},
        )
        return redirect("loyalty-dashboard:customer-detail", pk=self.customer.pk)


class ImportView(generic.FormView):
    """Upload a CSV from another program (imported by a Celery task); the recent imports."""

    form_class = ImportForm
    template_name = "oscar_loyalty/dashboard/import_list.html"

    def get_context_data(self, **kwargs):
        runs = ImportRun.objects.select_related("uploaded_by")[:20]
        return {**super().get_context_data(**kwargs), "runs": runs}

    def form_valid(self, form):
        upload = form.cleaned_data["file"]
        run = ImportRun.objects.create(
            name=upload.name[:255], uploaded_by=self.request.user, size=upload.size
        )
        run.file.save(f"{run.pk}.csv", upload, save=True)
        transaction.on_commit(lambda: tasks.import_file.delay(run.pk))
        return redirect("loyalty-dashboard:import-detail", pk=run.pk)


class ImportDetailView(generic.DetailView):
    """One import: a progress bar the page refreshes from ``ImportProgressView``."""

    model = ImportRun
    template_name = "oscar_loyalty/dashboard/import_detail.html"
    context_object_name = "run"


class ImportProgressView(generic.View):
    """What the progress bar polls: the run's status and figures."""

    def get(self, request, pk):
        run = get_object_or_404(ImportRun, pk=pk)
        return JsonResponse(
            {
                "status": run.status,
                "status_label": str(run.get_status_display()),
                "percent": run.percent,
                "rows": run.rows,
                "imported": run.imported,
                "unchanged": run.unchanged,
                "rejected": run.rejected,
                "points": run.points,
                "error": run.error,
                "finished": run.status in (ImportRun.Status.DONE, ImportRun.Status.FAILED),
            }
        )


class ImportReportView(generic.View):
    """The rejected rows of an import, with their reasons, as CSV."""

    def get(self, request, pk):
        run = get_object_or_404(ImportRun, pk=pk)
        return _csv_response(importing.report_rows(run), f"loyalty-import-{run.pk}-rejected.csv")


class AccountingView(generic.TemplateView):
    """The accountant's export: a period's ledger, or the balances owed at its end, as CSV."""

    template_name = "oscar_loyalty/dashboard/accounting.html"

    def get(self, request, *args, **kwargs):
        form = AccountingForm(request.GET or None)
        if request.GET and form.is_valid():
            period = form.period()
            if form.cleaned_data["report"] == "ledger":
                rows = accounting.ledger_rows(period.since, period.until)
            else:
                rows = accounting.balance_rows(period.until)
            name = f"loyalty-{form.cleaned_data['report']}-{period.start}-{period.end}.csv"
            return _csv_response(rows, name)
        return self.render_to_response(
            self.get_context_data(form=form, currencies=accounting.currencies())
        )


# Tiers ------------------------------------------------------------------------------


class TierListView(generic.ListView):
    model = Tier
    template_name = "oscar_loyalty/dashboard/tier_list.html"
    context_object_name = "tiers"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["members"] = tiers.members_by_tier()
        return context


class TierFormMixin:
    model = Tier
    form_class = TierForm
    template_name = "oscar_loyalty/dashboard/tier_form.html"

    def form_valid(self, form):
        tier = form.save()
        # The offer condition "customer in this tier or above", for Oscar's offer wizard.
        tiers.offer_condition(tier)
        messages.success(self.request, _("Tier %(name)s saved.") % {"name": tier.name})
        return redirect("loyalty-dashboard:tier-list")


class TierCreateView(TierFormMixin, generic.CreateView):
    pass


class TierUpdateView(TierFormMixin, generic.UpdateView):
    pass


class TierDeleteView(generic.DeleteView):
    """Delete a tier: its customers have no tier until the next recompute finds them another."""

    model = Tier
    template_name = "oscar_loyalty/dashboard/tier_delete.html"
    context_object_name = "tier"

    def form_valid(self, form):
        tier = self.get_object()
        if tier.rewards.exists():
            messages.error(self.request, _("Rewards are only for this tier: change them first."))
            return redirect("loyalty-dashboard:tier-list")
        tiers.delete_tier(tier)
        messages.success(self.request, _("Tier deleted."))
        return redirect("loyalty-dashboard:tier-list")


class MoveTierView(generic.FormView):
    """Staff move a customer up or down, with a reason the customer reads."""

    form_class = MoveTierForm
    http_method_names = ["post"]

    def dispatch(self, request, *args, **kwargs):
        self.customer = get_object_or_404(User, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            change = tiers.move(self.customer, data["tier"], data["reason"], self.request.user)
        except LoyaltyError as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        if change is None:
            messages.info(self.request, _("The customer is already in this tier."))
        else:
            messages.success(
                self.request, _("Tier changed: %(reason)s") % {"reason": data["reason"]}
            )
        return redirect("loyalty-dashboard:customer-detail", pk=self.customer.pk)

    def form_invalid(self, form):
        view = CustomerDetailView(request=self.request, kwargs={"pk": self.customer.pk})
        view.object = view.get_object()
        context = view.get_context_data(tier_form=form)
        return view.render_to_response(context, status=400)


# Bonus actions -----------------------------------------------------------------


class BonusActionListView(generic.TemplateView):
    """What each action (joining, birthday, review, profile) earns, and its caps."""

    template_name = "oscar_loyalty/dashboard/bonus_action_list.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "actions": bonus.all_action_settings()}


class BonusActionUpdateView(generic.UpdateView):
    form_class = BonusActionForm
    template_name = "oscar_loyalty/dashboard/bonus_action_form.html"
    context_object_name = "bonus_action"

    def get_object(self, queryset=None):
        if self.kwargs["action"] not in BonusAction.Action.values:
            raise Http404
        return bonus.action_settings(self.kwargs["action"])

    def form_valid(self, form):
        action = form.save()
        messages.success(
            self.request, _("Bonus for %(action)s saved.") % {"action": action.get_action_display()}
        )
        return redirect("loyalty-dashboard:bonus-action-list")


# Segments and win-back -------------------------------------------------------------


class SegmentListView(generic.ListView):
    """Segments with their member counts (one counting statement a segment on the page)."""

    model = Segment
    template_name = "oscar_loyalty/dashboard/segment_list.html"
    context_object_name = "segments"
    paginate_by = settings.OSCAR_DASHBOARD_ITEMS_PER_PAGE

    def get_queryset(self):
        return Segment.objects.prefetch_related("categories").order_by("name")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        for segment in context["segments"]:
            segment.member_count = segments.count(segment)
        return context


class SegmentFormMixin:
    model = Segment
    form_class = SegmentForm
    template_name = "oscar_loyalty/dashboard/segment_form.html"

    def form_valid(self, form):
        segment = form.save()
        segments.save_condition(segment)
        messages.success(
            self.request,
            _("Segment %(name)s saved: %(count)s customers.")
            % {"name": segment.name, "count": segments.count(segment)},
        )
        return redirect("loyalty-dashboard:segment-list")


class SegmentCreateView(SegmentFormMixin, generic.CreateView):
    pass


class SegmentUpdateView(SegmentFormMixin, generic.UpdateView):
    pass


class WinBackListView(generic.ListView):
    """Win-back campaigns, with how many customers came back and what they spent."""

    model = WinBackCampaign
    template_name = "oscar_loyalty/dashboard/winback_list.html"
    context_object_name = "campaigns"
    paginate_by = settings.OSCAR_DASHBOARD_ITEMS_PER_PAGE
    ordering = ["-created_at", "-pk"]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        figures = winback.results(list(context["campaigns"]))
        for campaign in context["campaigns"]:
            campaign.figures = figures[campaign.pk]
        return context


class WinBackFormMixin:
    model = WinBackCampaign
    form_class = WinBackCampaignForm
    template_name = "oscar_loyalty/dashboard/winback_form.html"

    def form_valid(self, form):
        campaign = form.save()
        messages.success(self.request, _("Campaign %(name)s saved.") % {"name": campaign.name})
        return redirect("loyalty-dashboard:winback-list")


class WinBackCreateView(WinBackFormMixin, generic.CreateView):
    pass


class WinBackUpdateView(WinBackFormMixin, generic.UpdateView):
    pass
