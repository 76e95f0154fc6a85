from datetime import datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_class, get_model
from oscar.forms import widgets

from ..coupons import brands
from ..coupons.applying import normalise
from ..coupons.creation import FIXED, FREE_SHIPPING, PERCENTAGE, CouponSpec, offer_of
from ..i18n import other_languages
from ..ledger import MAX_POINTS, MAX_REASON_LENGTH
from ..models import (
    BonusAction,
    BonusCampaign,
    BrandExclusion,
    Reward,
    Segment,
    Tier,
    WinBackCampaign,
)

Voucher = get_model("voucher", "Voucher")
Category = get_model("catalogue", "Category")
Product = get_model("catalogue", "Product")
OscarProductSelect = get_class("dashboard.catalogue.widgets", "ProductSelect")
OscarProductSelectMultiple = get_class("dashboard.catalogue.widgets", "ProductSelectMultiple")
# How long a new reward is proposed to run.
PROPOSED_DAYS = 91


class _ChosenIdsOnly:
    """Oscar's product chooser looks its chosen products up by the sent ids: a garbled
    id ("abc") would crash the page shown again with the form's error."""

    def optgroups(self, name, value, attrs=None):
        return super().optgroups(name, [v for v in value if str(v).isdigit()], attrs)


class ProductSelect(_ChosenIdsOnly, OscarProductSelect):
    pass


class ProductSelectMultiple(_ChosenIdsOnly, OscarProductSelectMultiple):
    pass


class CouponForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=128)
    code = forms.CharField(
        label=_("Code"),
        max_length=64,
        help_text=_("Letters, digits, - and _. Customers may type it in any case."),
    )
    kind = forms.ChoiceField(
        label=_("Discount"),
        choices=[
            (PERCENTAGE, _("Percentage off eligible products")),
            (FIXED, _("Fixed amount off eligible products")),
            (FREE_SHIPPING, _("Free shipping")),
        ],
    )
    value = forms.DecimalField(
        label=_("Value"), min_value=0, max_digits=12, decimal_places=2, required=False
    )
    start = forms.DateTimeField(label=_("Valid from"), widget=widgets.DateTimePickerInput())
    end = forms.DateTimeField(label=_("Valid until"), widget=widgets.DateTimePickerInput())
    usage = forms.ChoiceField(
        label=_("Usage"), choices=Voucher.USAGE_CHOICES, initial=Voucher.MULTI_USE
    )
    max_uses = forms.IntegerField(
        label=_("Total uses allowed"),
        min_value=1,
        required=False,
        help_text=_("Leave empty for no limit."),
    )
    minimum = forms.DecimalField(
        label=_("Minimum basket value"),
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        required=False,
    )
    excluded_brands = forms.MultipleChoiceField(
        label=_("Excluded brands"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("Products of these brands are never discounted by this coupon."),
    )
    excluded_categories = forms.ModelMultipleChoiceField(
        label=_("Excluded categories"),
        queryset=Category.objects.all(),
        required=False,
        help_text=_("Products in these categories (and their subcategories) are not discounted."),
    )

    excluded_products = forms.ModelMultipleChoiceField(
        label=_("Excluded products"),
        queryset=Product.objects.all(),
        required=False,
        widget=ProductSelectMultiple,
        help_text=_("These products are never discounted by this coupon (gift cards, say)."),
    )

    def __init__(self, *args, voucher=None, **kwargs):
        self.voucher = voucher
        super().__init__(*args, **kwargs)
        # Brands no product carries any more stay listed while a coupon excludes them.
        known = set(brands.all_brands()) | set(self.initial.get("excluded_brands", []))
        self.fields["excluded_brands"].choices = [(b, b) for b in sorted(known)]

    def clean_code(self):
        code = normalise(self.cleaned_data["code"])
        if code is None:
            raise forms.ValidationError(_("Use only letters, digits, - and _."))
        others = Voucher.objects.filter(code__iexact=code)
        if self.voucher is not None:
            others = others.exclude(pk=self.voucher.pk)
        if others.exists():
            raise forms.ValidationError(_("Another voucher already has this code."))
        return code

    def clean(self):
        data = super().clean()
        kind, value = data.get("kind"), data.get("value")
        if kind in (PERCENTAGE, FIXED) and not value:
            self.add_error("value", _("Give the discount's value."))
        if kind == PERCENTAGE and value and value > 100:
            self.add_error("value", _("A percentage cannot be more than 100."))
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", _("The end must be after the start."))
        return data

    def spec(self) -> CouponSpec:
        data = self.cleaned_data
        return CouponSpec(
            name=data["name"],
            code=data["code"],
            kind=data["kind"],
            value=data["value"] or Decimal(0),
            start=data["start"],
            end=data["end"],
            usage=data["usage"],
            max_uses=data["max_uses"],
            minimum=data["minimum"],
            excluded_brands=data["excluded_brands"],
            excluded_categories=list(data["excluded_categories"]),
            excluded_products=list(data["excluded_products"]),
        )


def initial_for(voucher) -> dict:
    offer = offer_of(voucher)
    benefit, condition = offer.benefit, offer.condition
    kind = {
        benefit.PERCENTAGE: PERCENTAGE,
        benefit.FIXED: FIXED,
    }.get(benefit.type, FREE_SHIPPING)
    range_ = condition.range
    return {
        "name": voucher.name,
        "code": voucher.code,
        "kind": kind,
        "value": benefit.value if kind != FREE_SHIPPING else None,
        "start": voucher.start_datetime,
        "end": voucher.end_datetime,
        "usage": voucher.usage,
        "max_uses": offer.max_global_applications,
        "minimum": condition.value if condition.type == condition.VALUE else None,
        "excluded_brands": list(
            BrandExclusion.objects.filter(range=range_).values_list("brand", flat=True)
        ),
        "excluded_categories": list(range_.excluded_categories.all()),
        "excluded_products": list(
            range_.excluded_products.exclude(pk__in=brands.brand_products(range_))
        ),
    }


class TranslatedNamesMixin:
    """A text field in each of the shop's other languages, kept in ``<field>_translations``.

    For a model form whose model has ``<field>`` and a ``<field>_translations``
    JSONField (``{language code: text}``); each language's field follows the
    field it translates. Left empty, pages show the field itself. Languages no
    longer in ``LANGUAGES`` keep what was stored for them.
    """

    translated_fields: tuple[str, ...] = ("name",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        order = list(self.fields)
        for field in self.translated_fields:
            model_field = self._meta.model._meta.get_field(field)
            stored = getattr(self.instance, f"{field}_translations", None) or {}
            at = order.index(field) + 1
            for code, language in other_languages():
                name = self.translation_field(field, code)
                self.fields[name] = forms.CharField(
                    label=_("%(field)s in %(language)s")
                    % {"field": capfirst(model_field.verbose_name), "language": language},
                    max_length=model_field.max_length,
                    required=False,
                    initial=stored.get(code, ""),
                    help_text=_("Empty: the name above."),
                )
                order.insert(at, name)
                at += 1
        self.order_fields(order)

    @staticmethod
    def translation_field(field: str, code: str) -> str:
        return f"{field}_{code.replace('-', '_')}"

    def save(self, commit=True):
        for field in self.translated_fields:
            stored = dict(getattr(self.instance, f"{field}_translations", None) or {})
            for code, _language in other_languages():
                text = (self.cleaned_data.get(self.translation_field(field, code)) or "").strip()
                if text:
                    stored[code] = text
                else:
                    stored.pop(code, None)
            setattr(self.instance, f"{field}_translations", stored)
        return super().save(commit)


class RewardForm(TranslatedNamesMixin, forms.ModelForm):
    """A reward of one kind: only that kind's fields count.

    The page's script shows only the chosen kind's fields; here, a value sent
    for another kind (a discount value on a free-shipping reward, say) is
    ignored, so a hidden field never saves a stale value.
    """

    # The fields that belong to one kind only; the others are common to all.
    KIND_FIELDS = {"value": Reward.Kind.DISCOUNT, "product": Reward.Kind.FREE_PRODUCT}

    class Meta:
        model = Reward
        fields = [
            "name",
            "description",
            "kind",
            "cost",
            "value",
            "product",
            "stock",
            "starts_at",
            "ends_at",
            "code_valid_days",
            "min_tier",
        ]
        widgets = {
            # Without seconds: the picker's box shows the whole date and time.
            "starts_at": widgets.DateTimePickerInput(format="%Y-%m-%d %H:%M"),
            "ends_at": widgets.DateTimePickerInput(format="%Y-%m-%d %H:%M"),
            "product": ProductSelect,
        }
        help_texts = {"product": _("Search by title, UPC or SKU.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A parent product is never bought itself: give one of its variants.
        self.fields["product"].queryset = Product.objects.exclude(
            structure=Product.PARENT
        ).order_by("pk")
        for name, kind in self.KIND_FIELDS.items():
            self.fields[name].widget.attrs["data-reward-kind"] = kind

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        for name, only_for in self.KIND_FIELDS.items():
            if kind != only_for:
                data[name] = None
                self._errors.pop(name, None)  # a garbled hidden field is not this kind's
        if kind == Reward.Kind.DISCOUNT and not data.get("value"):
            self.add_error("value", _("Give the discount's value."))
        elif kind == Reward.Kind.DISCOUNT and data["value"] < 0:
            self.add_error("value", _("The discount cannot be negative."))
        if kind == Reward.Kind.FREE_PRODUCT and not data.get("product"):
            self.add_error("product", _("Choose the product given for free."))
        if data.get("cost") == 0:
            self.add_error("cost", _("A reward costs at least 1 point."))
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", _("The end must be after the start."))
        stock = data.get("stock")
        if stock is not None and self.instance.pk and stock < self.instance.claimed:
            self.add_error("stock", _("More have been claimed already."))
        return data

    @classmethod
    def proposed_dates(cls, now=None) -> dict:
        """A new reward's dates: from the start of today, for three months."""
        today = timezone.localdate(now)
        start = timezone.make_aware(datetime.combine(today, time.min))
        end = timezone.make_aware(datetime.combine(today + timedelta(days=PROPOSED_DAYS), time.min))
        return {"starts_at": start, "ends_at": end}


class BulkCodesForm(forms.Form):
    """A campaign of unique single-use codes with a coupon's discount."""

    # Bigger campaigns: the loyalty_generate_codes command, with a progress bar.
    MAX_IN_A_REQUEST = 50_000

    count = forms.IntegerField(label=_("How many codes"), min_value=1, max_value=MAX_IN_A_REQUEST)
    prefix = forms.CharField(
        label=_("Prefix"),
        max_length=10,
        required=False,
        help_text=_("Optional, e.g. SPRING-. Letters, digits and hyphens."),
    )
    usage = forms.ChoiceField(
        label=_("Usage"), choices=Voucher.USAGE_CHOICES, initial=Voucher.SINGLE_USE
    )

    def clean_prefix(self):
        from ..coupons.codes import clean_prefix

        try:
            return clean_prefix(self.cleaned_data["prefix"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class PeriodForm(forms.Form):
    """The KPI page's period: the last N days, or chosen dates (both inclusive)."""

    PRESETS = (7, 30, 90, 365)
    MAX_DAYS = 731

    days = forms.TypedChoiceField(
        label=_("Period"),
        required=False,
        coerce=int,
        choices=[("", _("Chosen dates"))]
        + [(n, _("Last %(days)d days") % {"days": n}) for n in PRESETS],
    )
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if not data.get("days") and not self.errors:
            if not (start and end):
                raise forms.ValidationError(_("Choose a period, or both dates."))
            if end < start:
                self.add_error("end", _("The end must not be before the start."))
            elif (end - start).days >= self.MAX_DAYS:
                self.add_error("end", _("Choose at most %(days)d days.") % {"days": self.MAX_DAYS})
        return data

    def period(self):
        from ..kpis import Period

        data = self.cleaned_data
        if data.get("days"):
            return Period.last(data["days"])
        return Period(data["start"], data["end"])


class AtRiskForm(forms.Form):
    days = forms.IntegerField(
        label=_("No second order within (days)"), min_value=1, max_value=3650, initial=60
    )


class CouponSearchForm(forms.Form):
    q = forms.CharField(label=_("Code or name"), max_length=128, required=False, strip=True)


class CustomerSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Email, name or member number"), max_length=128, required=False, strip=True
    )


class _CounterForm(forms.Form):
    """Who (one field for an email, member number or card code) and which receipt."""

    customer = forms.CharField(
        label=_("Customer"),
        max_length=254,
        help_text=_("Email, member number or the code their app shows."),
    )
    receipt = forms.CharField(
        label=_("Receipt number"),
        max_length=64,
        help_text=_("As printed, with the store's prefix: a receipt is recorded once."),
    )

    def clean_receipt(self):
        from ..till import TILL_KEY

        receipt = self.cleaned_data["receipt"].strip()
        if not TILL_KEY.fullmatch(receipt):
            raise forms.ValidationError(
                _("Use the receipt's letters, digits and . _ : - only, without spaces.")
            )
        return receipt

    def clean_customer(self):
        from ..exceptions import LedgerError
        from ..till import find_customer

        try:
            return find_customer(self.cleaned_data["customer"])
        except LedgerError as exc:
            raise forms.ValidationError(str(exc)) from None


class InStorePurchaseForm(_CounterForm):
    amount = forms.DecimalField(
        label=_("Amount paid"),
        min_value=Decimal("0.01"),
        max_value=Decimal("1000000000"),
        max_digits=12,
        decimal_places=2,
    )


class InStoreRewardForm(_CounterForm):
    reward = forms.ModelChoiceField(
        label=_("Reward"), queryset=Reward.objects.none(), empty_label=None
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        now = timezone.now()
        # What can be handed over the counter now: shipping is not.
        self.fields["reward"].queryset = (
            Reward.objects.exclude(kind=Reward.Kind.FREE_SHIPPING)
            .filter(Q(starts_at=None) | Q(starts_at__lte=now))
            .filter(Q(ends_at=None) | Q(ends_at__gt=now))
            .filter(Q(stock=None) | Q(claimed__lt=F("stock")))
        )
        self.fields["reward"].label_from_instance = lambda r: (
            _("%(name)s (%(cost)d points)") % {"name": r.name, "cost": r.cost}
        )


class AdjustPointsForm(forms.Form):
    """A staff member's correction: points up (positive) or down (negative), with a reason."""

    points = forms.IntegerField(
        label=_("Points"),
        help_text=_("Positive to add, negative to take away."),
        min_value=-MAX_POINTS,
        max_value=MAX_POINTS,
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=MAX_REASON_LENGTH,
        help_text=_("The customer sees it in their points history."),
    )
    # Drawn when the form is shown, so submitting it twice adjusts once.
    token = forms.UUIDField(widget=forms.HiddenInput)

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Give a number of points other than zero."))
        return points


class BonusCampaignForm(forms.ModelForm):
    class Meta:
        model = BonusCampaign
        fields = ["name", "multiplier", "starts_at", "ends_at", "products", "categories", "segment"]
        widgets = {
            "starts_at": widgets.DateTimePickerInput(),
            "ends_at": widgets.DateTimePickerInput(),
            "products": ProductSelectMultiple,
        }

    def clean(self):
        data = super().clean()
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", _("The end must be after the start."))
        return data


class ImportForm(forms.Form):
    """A CSV file from another program; it is checked row by row once uploaded."""

    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, one row per lot of points: email, points, expires_on (YYYY-MM-DD), "
            "marketing (yes/no), consent_date."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        start = upload.read(4096)
        upload.seek(0)
        if start.startswith(b"PK") or b"\x00" in start:
            raise forms.ValidationError(
                _("This looks like a spreadsheet, not CSV: save it as CSV UTF-8 first.")
            )
        if not start.strip():
            raise forms.ValidationError(_("The file is empty."))
        return upload


class EraseForm(forms.Form):
    """Staff type the customer's email to confirm: erasing cannot be undone."""

    confirm = forms.CharField(label=_("Type the customer's email to confirm"), max_length=254)

    def __init__(self, *args, email: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean_confirm(self):
        typed = self.cleaned_data["confirm"].strip().lower()
        if not self.email or typed != self.email.strip().lower():
            raise forms.ValidationError(_("That is not this customer's email."))
        return typed


class AccountingForm(PeriodForm):
    """The accountant's export: a period and which report."""

    report = forms.ChoiceField(
        label=_("Report"),
        choices=[
            ("ledger", _("Ledger entries of the period")),
            ("balances", _("Balances owed at the end of the period")),
        ],
    )


class TierForm(TranslatedNamesMixin, forms.ModelForm):
    class Meta:
        model = Tier
        fields = [
            "name",
            "level",
            "threshold",
            "measure",
            "period",
            "hidden",
            "downgrade",
            "grace_days",
            "multiplier",
        ]


class MoveTierForm(forms.Form):
    """Staff put a customer in a tier (or none), with a reason the customer reads."""

    tier = forms.ModelChoiceField(
        label=_("Tier"), queryset=Tier.objects.all(), required=False, empty_label=_("No tier")
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=255,
        help_text=_("The customer sees it on their Rewards page."),
    )


class BonusActionForm(forms.ModelForm):
    class Meta:
        model = BonusAction
        fields = ["enabled", "points", "daily_cap", "lifetime_cap"]

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points > MAX_POINTS:
            raise forms.ValidationError(_("At most %(max)s points.") % {"max": MAX_POINTS})
        return points

    def clean(self):
        data = super().clean()
        if data.get("enabled") and not data.get("points"):
            self.add_error("points", _("Give the points this action earns."))
        return data


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = [
            "name",
            "min_orders",
            "max_orders",
            "min_spend",
            "max_spend",
            "min_days_since_order",
            "max_days_since_order",
            "categories",
            "brands",
            "marketing",
        ]

    def clean(self):
        data = super().clean()
        for low, high in (
            ("min_orders", "max_orders"),
            ("min_spend", "max_spend"),
            ("max_days_since_order", "min_days_since_order"),
        ):
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                self.add_error(
                    high, _("This cannot be below %(other)s.") % {"other": self.fields[low].label}
                )
        for name in ("min_spend", "max_spend"):
            if data.get(name) is not None and data[name] < 0:
                self.add_error(name, _("Give an amount of 0 or more."))
        for name in ("min_days_since_order", "max_days_since_order"):
            if data.get(name) is not None and data[name] > 36500:
                self.add_error(name, _("At most 36500 days."))
        return data


class WinBackCampaignForm(forms.ModelForm):
    class Meta:
        model = WinBackCampaign
        fields = ["name", "enabled", "days", "kind", "value", "valid_days", "segment"]

    def clean(self):
        data = super().clean()
        days = data.get("days")
        if days is not None and not 1 <= days <= 3650:
            self.add_error("days", _("Between 1 and 3650 days."))
        value = data.get("value")
        if value is not None and value <= 0:
            self.add_error("value", _("Give a discount above 0."))
        percentage = data.get("kind") == WinBackCampaign.Kind.PERCENTAGE
        if value is not None and percentage and value > 100:
            self.add_error("value", _("A percentage cannot be above 100."))
        valid = data.get("valid_days")
        if valid is not None and not 1 <= valid <= 3650:
            self.add_error("valid_days", _("Between 1 and 3650 days."))
        return data
