"""What orders will earn: pending awards, and the campaigns that weight them.

``awards``, ``backfill`` and ``referrals`` (a referrer's award) write pending
awards; ``ledger.bulk`` marks them earned. Bonus campaigns are the merchant's,
edited in the admin.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import keys
from .ledger import Account


class PendingAward(models.Model):
    """Points promised for an order, posted to the ledger once the return window passes.

    ``original_points`` is what the order was worth when placed; ``points`` is
    what it is worth now, after refunds (prorated on ``line_values``, the
    weighted amount of each line when placed, so later rule changes never
    alter an award). A referrer's award keeps each line's amount paid in
    ``line_values`` instead, with what qualified the order.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        EARNED = "earned", _("Earned")
        VOID = "void", _("Void")

    order = models.ForeignKey(
        "order.Order",
        on_delete=models.CASCADE,
        related_name="loyalty_awards",
        verbose_name=_("Order"),
    )
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="awards", verbose_name=_("Account")
    )
    # Set for the referrer's award on a referred customer's first order.
    referral = models.ForeignKey(
        "Referral",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="awards",
        verbose_name=_("Referral"),
    )
    points = models.IntegerField(_("Points"))
    original_points = models.IntegerField(_("Points when placed"))
    line_values = models.JSONField(_("Weighted line amounts"), default=dict)
    # A referrer's award: the friend's order total and the minimum order when
    # it qualified. A refund replays them; later setting changes never do.
    qualifying_total = models.DecimalField(
        _("Order total when it qualified"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    minimum_order = models.DecimalField(
        _("Minimum order when it qualified"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
    )
    status = models.CharField(
        _("Status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    matures_at = models.DateTimeField(_("Available from"))
    created_at = models.DateTimeField(_("Created"), default=timezone.now)

    class Meta:
        verbose_name = _("Pending award")
        verbose_name_plural = _("Pending awards")
        indexes = [
            models.Index(
                fields=["matures_at", "id"],
                condition=models.Q(status="pending"),
                name="loyalty_award_due_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(points__gte=0)
                & models.Q(points__lte=models.F("original_points")),
                name="loyalty_award_points_in_range",
            ),
            # One award per order for its customer (and one per referral for a
            # referrer): the order's customer never refers themselves, so this
            # is "one customer award per order" without a partial index, which
            # MariaDB does not have.
            models.UniqueConstraint(
                fields=["order", "account"], name="loyalty_award_one_per_order_and_account"
            ),
            models.UniqueConstraint(fields=["referral"], name="loyalty_award_one_per_referral"),
        ]

    def __str__(self):
        return f"{self.points} for order {self.order_id} ({self.status})"

    @property
    def key(self):
        """The idempotency key of the earn entry this award posts."""
        if self.referral_id:
            return keys.referral_earn(self.referral_id)
        return keys.order_earn(self.order.number)


class BonusCampaign(models.Model):
    """Multiplies the points of chosen products or categories for a while.

    A multiplier of 0 excludes them from earning (gift cards, for instance).
    When several campaigns cover a line, an exclusion wins, else the highest
    multiplier. With a segment, it applies to that segment's customers only.
    """

    name = models.CharField(_("Name"), max_length=128)
    multiplier = models.DecimalField(
        _("Multiplier"),
        max_digits=5,
        decimal_places=2,
        help_text=_("2 for double points; 0 to exclude from earning."),
    )
    starts_at = models.DateTimeField(_("Starts"), null=True, blank=True)
    ends_at = models.DateTimeField(_("Ends"), null=True, blank=True)
    products = models.ManyToManyField(
        "catalogue.Product", blank=True, related_name="+", verbose_name=_("Products")
    )
    categories = models.ManyToManyField(
        "catalogue.Category",
        blank=True,
        related_name="+",
        verbose_name=_("Categories"),
        help_text=_("Products in these categories or any of their subcategories."),
    )
    segment = models.ForeignKey(
        "Segment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Only customers in segment"),
        help_text=_("Empty: every customer."),
    )

    class Meta:
        verbose_name = _("Bonus campaign")
        verbose_name_plural = _("Bonus campaigns")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(multiplier__gte=0), name="loyalty_campaign_multiplier_gte_0"
            ),
        ]

    def __str__(self):
        return self.name
