"""Customer segments, the offer condition that restricts an offer to one, and win-back
campaigns.

``segments`` evaluates segments (set-based) and writes their conditions;
staff edit segments and win-back campaigns in the dashboard; ``winback``
writes the coupons it sends.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_model

# Loaded through Oscar, as the redemption models do (see there).
CountCondition = get_model("offer", "CountCondition")


class Segment(models.Model):
    """Customers picked by rules: every rule given must hold; empty rules are ignored.

    Orders count in the shop's default currency and when not cancelled.
    Rules on days since the last order only match customers who ordered.
    """

    class Consent(models.TextChoices):
        ANY = "", _("Any")
        YES = "yes", _("Agreed to marketing emails")
        NO = "no", _("Did not agree to marketing emails")

    name = models.CharField(_("Name"), max_length=128, unique=True)
    min_orders = models.PositiveIntegerField(_("At least this many orders"), null=True, blank=True)
    max_orders = models.PositiveIntegerField(_("At most this many orders"), null=True, blank=True)
    min_spend = models.DecimalField(
        _("Spent at least"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    max_spend = models.DecimalField(
        _("Spent at most"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    min_days_since_order = models.PositiveIntegerField(
        _("No order for at least (days)"), null=True, blank=True
    )
    max_days_since_order = models.PositiveIntegerField(
        _("Ordered within (days)"), null=True, blank=True
    )
    categories = models.ManyToManyField(
        "catalogue.Category",
        blank=True,
        related_name="+",
        verbose_name=_("Bought in these categories"),
        help_text=_("Any of them, or their subcategories."),
    )
    brands = models.CharField(
        _("Bought these brands"),
        max_length=1024,
        blank=True,
        help_text=_("Any of them; separate brands with commas."),
    )
    marketing = models.CharField(
        _("Marketing consent"), max_length=8, choices=Consent.choices, blank=True, default=""
    )
    # The offer condition "customer is in this segment", made with the segment:
    # it is listed among the custom conditions of Oscar's offer dashboard.
    condition = models.OneToOneField(
        "offer.Condition",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="loyalty_segment",
        verbose_name=_("Offer condition"),
    )
    created_at = models.DateTimeField(_("Created"), default=timezone.now)

    class Meta:
        verbose_name = _("Customer segment")
        verbose_name_plural = _("Customer segments")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_orders__isnull=True)
                | models.Q(max_orders__isnull=True)
                | models.Q(min_orders__lte=models.F("max_orders")),
                name="loyalty_segment_orders_range",
            ),
            models.CheckConstraint(
                condition=models.Q(min_spend__isnull=True) | models.Q(min_spend__gte=0),
                name="loyalty_segment_min_spend_gte_0",
            ),
        ]

    def __str__(self):
        return self.name

    def brand_list(self) -> list[str]:
        return [b.strip() for b in self.brands.split(",") if b.strip()]


class SegmentCondition(CountCondition):
    """An offer's condition: the basket's owner is in the segment (and it holds an item).

    Made with each segment (``Segment.condition``); choose it among the custom
    conditions when creating an offer or a voucher's offer in Oscar's
    dashboard. Guests are never in a segment.
    """

    class Meta:
        proxy = True
        verbose_name = _("Segment condition")
        verbose_name_plural = _("Segment conditions")

    @classmethod
    def path(cls) -> str:
        """What a Condition's ``proxy_class`` holds to be one of these."""
        return f"oscar_loyalty.models.{cls.__name__}"

    @property
    def segment(self):
        return Segment.objects.filter(condition_id=self.pk).first()

    @property
    def name(self):
        segment = self.segment
        return _("Customer is in segment %(name)s") % {"name": segment.name if segment else "?"}

    @property
    def description(self):
        return self.name

    def is_satisfied(self, offer, basket):
        from ..segments import basket_owner_in

        segment = self.segment
        if segment is None or not basket_owner_in(segment, basket):
            return False
        return super().is_satisfied(offer, basket)

    def is_partially_satisfied(self, offer, basket):
        return False


class WinBackCampaign(models.Model):
    """A personal single-use coupon emailed to customers at risk of not coming back.

    At risk, as on the figures page: their one and only order is more than
    ``days`` old. Each customer gets one coupon per campaign, by email, only
    with their marketing consent. ``segment``, if set, narrows who gets it.
    """

    class Kind(models.TextChoices):
        PERCENTAGE = "percentage", _("Percentage off")
        FIXED = "fixed", _("Fixed amount off")

    name = models.CharField(_("Name"), max_length=128)
    enabled = models.BooleanField(_("Sending"), default=False)
    days = models.PositiveIntegerField(
        _("No second order within (days)"), default=60, help_text=_("Between 1 and 3650.")
    )
    kind = models.CharField(_("Discount"), max_length=16, choices=Kind.choices)
    value = models.DecimalField(_("Value"), max_digits=12, decimal_places=2)
    valid_days = models.PositiveIntegerField(_("Days the coupon stays valid"), default=30)
    segment = models.ForeignKey(
        Segment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Only customers in segment"),
    )
    created_at = models.DateTimeField(_("Created"), default=timezone.now)

    class Meta:
        verbose_name = _("Win-back campaign")
        verbose_name_plural = _("Win-back campaigns")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value__gt=0), name="loyalty_winback_value_gt_0"
            ),
            models.CheckConstraint(
                condition=models.Q(days__gte=1, days__lte=3650), name="loyalty_winback_days_range"
            ),
        ]

    def __str__(self):
        return self.name


class WinBackCoupon(models.Model):
    """The coupon one customer got from one campaign: once per customer and campaign."""

    campaign = models.ForeignKey(
        WinBackCampaign,
        on_delete=models.CASCADE,
        related_name="coupons",
        verbose_name=_("Campaign"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("Customer"),
    )
    voucher = models.OneToOneField(
        "voucher.Voucher",
        on_delete=models.SET_NULL,
        null=True,
        related_name="loyalty_winback",
        verbose_name=_("Coupon"),
    )
    sent_at = models.DateTimeField(_("Sent"), default=timezone.now)

    class Meta:
        verbose_name = _("Win-back coupon")
        verbose_name_plural = _("Win-back coupons")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "user"], name="loyalty_winback_once"),
        ]

    def __str__(self):
        return f"{self.campaign} to {self.user_id}"
