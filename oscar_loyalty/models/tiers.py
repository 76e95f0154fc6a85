"""Tiers: the levels customers climb, where each customer stands, and how they got there.

Merchants edit tiers in the dashboard; ``tiers`` alone writes ``TierStatus`` and
``TierChange`` rows (the periodic recompute, an award or refund, a staff move).
"""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_model

from ..i18n import translated
from .ledger import Account

Condition = get_model("offer", "Condition")


class Tier(models.Model):
    """A level: reached by counting points earned or money spent over a period.

    ``level`` orders the tiers (higher is better); a customer is in the highest
    tier whose own count reaches its threshold, and keeps it under the tier's
    downgrade policy once they no longer do.
    """

    class Measure(models.TextChoices):
        POINTS = "points", _("Points earned")
        SPEND = "spend", _("Money spent")

    class Period(models.TextChoices):
        ROLLING = "rolling", _("The last 365 days")
        YEAR = "year", _("The calendar year")
        LIFETIME = "lifetime", _("All time")

    class Downgrade(models.TextChoices):
        NEVER = "never", _("Never")
        PERIOD_END = "period_end", _("At the end of the period")
        GRACE = "grace", _("After a grace period")

    name = models.CharField(_("Name"), max_length=64)
    name_translations = models.JSONField(
        _("Name in other languages"),
        default=dict,
        blank=True,
        help_text=_('By language code, e.g. {"es": "Oro"}.'),
    )
    level = models.PositiveSmallIntegerField(
        _("Level"), unique=True, help_text=_("Higher levels are better tiers.")
    )
    threshold = models.DecimalField(
        _("Threshold"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal("9999999999"))],
        help_text=_("Points, or money in the shop's currency, to reach this tier."),
    )
    measure = models.CharField(
        _("What counts"), max_length=8, choices=Measure.choices, default=Measure.POINTS
    )
    period = models.CharField(
        _("Counted over"), max_length=8, choices=Period.choices, default=Period.ROLLING
    )
    hidden = models.BooleanField(
        _("Hidden"), default=False, help_text=_("Not shown to customers until they reach it.")
    )
    downgrade = models.CharField(
        _("Downgrade"), max_length=12, choices=Downgrade.choices, default=Downgrade.PERIOD_END
    )
    grace_days = models.PositiveIntegerField(
        _("Grace period (days)"),
        default=30,
        validators=[MaxValueValidator(3650)],
        help_text=_("With a grace period: days a customer keeps the tier after falling below."),
    )
    multiplier = models.DecimalField(
        _("Points multiplier"),
        max_digits=5,
        decimal_places=2,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal(1)), MaxValueValidator(Decimal(100))],
        help_text=_("1.5 earns half as many points again on every order."),
    )

    class Meta:
        verbose_name = _("Tier")
        verbose_name_plural = _("Tiers")
        ordering = ["level"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(threshold__gte=0), name="loyalty_tier_threshold_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(multiplier__gte=1), name="loyalty_tier_multiplier_gte_1"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def display_name(self) -> str:
        """The name in the customer's language, if the merchant translated it."""
        return translated(self.name_translations, self.name)

    def clean(self):
        super().clean()
        if not isinstance(self.name_translations, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) <= 64
            for k, v in self.name_translations.items()
        ):
            raise ValidationError(
                {"name_translations": _('Give names by language code, e.g. {"es": "Oro"}.')}
            )
        if self.downgrade == self.Downgrade.PERIOD_END and self.period == self.Period.LIFETIME:
            raise ValidationError(
                {"downgrade": _("All-time counts have no period end: choose another policy.")}
            )

    def grace(self) -> timedelta:
        return timedelta(days=self.grace_days)


class TierStatus(models.Model):
    """The tier a customer is in now.

    ``below_since``: when the recompute first found them below it (their
    downgrade policy runs from there). ``held_level``: staff put them here, so
    the recompute leaves them until they qualify for a tier above this level
    (the higher of the tier staff chose and the one they were in before).
    """

    account = models.OneToOneField(
        Account,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="tier_status",
        verbose_name=_("Account"),
    )
    tier = models.ForeignKey(
        Tier,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Tier"),
    )
    since = models.DateTimeField(_("Since"), default=timezone.now)
    below_since = models.DateTimeField(_("Below the threshold since"), null=True, blank=True)
    held_level = models.SmallIntegerField(
        _("Set by staff, until above level"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("Customer tier")
        verbose_name_plural = _("Customer tiers")

    def __str__(self):
        return f"{self.account_id}: {self.tier_id}"


class TierChange(models.Model):
    """One move between tiers, for the customer's page and the audit."""

    class Cause(models.TextChoices):
        REACHED = "reached", _("Reached")
        DOWNGRADED = "downgraded", _("Downgraded")
        STAFF = "staff", _("Moved by staff")

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="tier_changes", verbose_name=_("Account")
    )
    from_tier = models.ForeignKey(
        Tier,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("From"),
    )
    to_tier = models.ForeignKey(
        Tier,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("To"),
    )
    cause = models.CharField(_("Cause"), max_length=12, choices=Cause.choices)
    # A staff member's words to the customer (a staff move); empty otherwise.
    reason = models.CharField(_("Reason"), max_length=255, blank=True)
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Staff user"),
    )
    created_at = models.DateTimeField(_("Date"), default=timezone.now)

    class Meta:
        verbose_name = _("Tier change")
        verbose_name_plural = _("Tier changes")
        ordering = ["-id"]
        indexes = [models.Index(fields=["account", "-id"], name="loyalty_tier_change_idx")]

    def __str__(self):
        return f"{self.account_id}: {self.from_tier_id} -> {self.to_tier_id}"

    def customer_reason(self):
        """Why the tier changed, in the customer's language (a staff move: staff's words)."""
        if self.cause == self.Cause.STAFF and self.reason:
            return self.reason
        if self.to_tier_id is None:
            return _("Your tier ended")
        if self.cause == self.Cause.REACHED:
            return _("You reached %(tier)s") % {"tier": self.to_tier.display_name}
        return _("Your tier is now %(tier)s") % {"tier": self.to_tier.display_name}


class TierCondition(Condition):
    """An offer condition met in the basket of a customer in a tier, or a higher one.

    The perks of a tier that are discounts (free shipping, a percentage off)
    are Oscar offers with this condition, so checkout knows nothing of tiers.
    ``value`` holds the tier's id; ``tiers.offer_condition`` creates one per
    tier, which Oscar's offer wizard lists among its custom conditions.
    """

    class Meta:
        proxy = True
        verbose_name = _("Tier condition")
        verbose_name_plural = _("Tier conditions")

    @classmethod
    def path(cls) -> str:
        """What a Condition's ``proxy_class`` holds to be one of these."""
        return f"oscar_loyalty.models.{cls.__name__}"

    @property
    def tier(self):
        if self.value is None:
            return None
        return Tier.objects.filter(pk=int(self.value)).first()

    @property
    def name(self):
        tier = self.tier
        if tier is None:
            return _("Customer in a tier that was deleted")
        return _("Customer in %(tier)s or above") % {"tier": tier.display_name}

    @property
    def description(self):
        return self.name

    def is_satisfied(self, offer, basket):
        tier = self.tier
        if tier is None or not basket.owner_id:
            return False
        return TierStatus.objects.filter(
            account__user_id=basket.owner_id, tier__level__gte=tier.level
        ).exists()

    def consume_items(self, offer, basket, affected_lines):
        """Nothing to consume: the customer, not the basket's lines, meets the condition."""
