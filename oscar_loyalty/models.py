"""The points ledger's tables.

Only ``oscar_loyalty.ledger`` writes to them: ``Account.balance`` and
``PointsLot.remaining`` are caches of the entries, kept in the same transaction.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_model

from . import keys

# get_model imports Oscar's offer models (and their condition classes) even
# though this app is listed, and so loaded, before Oscar's.
Condition = get_model("offer", "Condition")
CountCondition = get_model("offer", "CountCondition")


class Account(models.Model):
    """A customer's points account, created the first time it is needed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="loyalty_account",
        verbose_name=_("Customer"),
    )
    balance = models.BigIntegerField(_("Balance"), default=0)
    created_at = models.DateTimeField(_("Created"), default=timezone.now)
    # Last time points were earned or spent: the "inactivity" expiry policy reads it.
    last_activity_at = models.DateTimeField(_("Last activity"), null=True, blank=True)

    class Meta:
        verbose_name = _("Points account")
        verbose_name_plural = _("Points accounts")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance__gte=0), name="loyalty_account_balance_gte_0"
            ),
        ]

    def __str__(self):
        return f"{self.user} ({self.balance})"


class LedgerEntry(models.Model):
    """One change of a balance, with its cause. Entries are never updated or deleted."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        SPEND = "spend", _("Spent")
        RESTORE = "restore", _("Restored")
        EXPIRE = "expire", _("Expired")
        CLAWBACK = "clawback", _("Taken back")
        ADJUSTMENT = "adjustment", _("Adjustment")

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", verbose_name=_("Account")
    )
    kind = models.CharField(_("Kind"), max_length=16, choices=Kind.choices)
    points = models.IntegerField(_("Points"), help_text=_("Positive adds, negative takes away."))
    balance_after = models.BigIntegerField(_("Balance after"))
    reason = models.CharField(_("Reason"), max_length=255)
    idempotency_key = models.CharField(_("Idempotency key"), max_length=128, unique=True)
    created_at = models.DateTimeField(_("Date"), default=timezone.now)

    # The cause, for audits and reversals.
    order = models.ForeignKey(
        "order.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="loyalty_entries",
        verbose_name=_("Order"),
    )
    voucher = models.ForeignKey(
        "voucher.Voucher",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="loyalty_entries",
        verbose_name=_("Voucher"),
    )
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Staff user"),
    )
    # The entry this one reverses (a restore of a spend, a clawback of an earn).
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
        verbose_name=_("Reverses"),
    )

    class Meta:
        verbose_name = _("Ledger entry")
        verbose_name_plural = _("Ledger entries")
        # Newest first. Entries are inserted as they happen, so the id is the
        # order of events, and history pages are keyset-paginated on it.
        ordering = ["-id"]
        indexes = [models.Index(fields=["account", "-id"], name="loyalty_entry_history_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(points=0), name="loyalty_entry_points_not_0"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.points:+d}: {self.reason}"

    def customer_reason(self):
        """Why the balance changed, in the customer's language.

        Built from the kind and the cause where they say it all; otherwise the
        stored reason (a staff member's words for an adjustment, for instance).
        Select ``order`` and ``voucher__loyalty_redemption__order`` with the
        entries: a spend learns its order from its voucher once the order is
        placed (entries themselves are never updated).
        """
        Kind = self.Kind
        number = self.order.number if self.order_id else None
        if self.kind == Kind.SPEND and number is None and self.voucher_id:
            redemption = getattr(self.voucher, "loyalty_redemption", None)
            if redemption is not None and redemption.order_id:
                number = redemption.order.number
        if number and self.kind in (Kind.EARN, Kind.SPEND, Kind.CLAWBACK):
            text = {
                Kind.EARN: _("Order %(number)s"),
                Kind.SPEND: _("Used in order %(number)s"),
                Kind.CLAWBACK: _("Order %(number)s refunded"),
            }[self.kind]
            return text % {"number": number}
        if self.kind == Kind.EXPIRE:
            return _("Expired")
        cause = keys.parse(self.idempotency_key)
        if cause is not None and cause.verb == "earn" and cause.cause == keys.REFERRAL:
            return _("A friend you referred placed their first order")
        if cause is not None and cause.verb == "earn" and cause.cause == keys.WELCOME:
            return _("Welcome bonus")
        return self.reason


class PointsLot(models.Model):
    """Points that arrived together and expire together.

    Spending consumes lots soonest-expiring first, so "120 points expire on
    1 March" is exact. ``remaining`` summed over an account's lots equals its
    balance, and only ever goes down: restored points come back as new lots.
    """

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="lots", verbose_name=_("Account")
    )
    # The entry that brought these points: an earn, a positive adjustment, or a
    # restore (which can bring back points of several expiry dates, one lot each).
    entry = models.ForeignKey(
        LedgerEntry, on_delete=models.PROTECT, related_name="lots", verbose_name=_("Entry")
    )
    points = models.IntegerField(_("Points"))
    remaining = models.IntegerField(_("Remaining"))
    earned_at = models.DateTimeField(_("Earned"))
    expires_at = models.DateTimeField(_("Expires"), null=True, blank=True)

    class Meta:
        verbose_name = _("Points lot")
        verbose_name_plural = _("Points lots")
        indexes = [
            models.Index(
                fields=["account", "expires_at", "id"],
                condition=models.Q(remaining__gt=0),
                name="loyalty_lot_open_idx",
            ),
            models.Index(
                fields=["expires_at"],
                condition=models.Q(remaining__gt=0),
                name="loyalty_lot_expiring_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(remaining__gte=0) & models.Q(remaining__lte=models.F("points")),
                name="loyalty_lot_remaining_in_range",
            ),
        ]

    def __str__(self):
        return f"{self.remaining}/{self.points}"


class LotConsumption(models.Model):
    """How many points an entry (a spend, an expiry...) took from which lot.

    Restoring a spend gives the points back with the expiry dates of the lots
    they came from, so a customer cannot extend expiry by spending and
    un-spending.
    """

    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="consumptions")
    lot = models.ForeignKey(PointsLot, on_delete=models.PROTECT, related_name="consumptions")
    points = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("Lot consumption")
        verbose_name_plural = _("Lot consumptions")

    def __str__(self):
        return f"{self.points} from lot {self.lot_id}"


class PendingAward(models.Model):
    """Points promised for an order, posted to the ledger once the return window passes.

    ``original_points`` is what the order was worth when placed; ``points`` is
    what it is worth now, after refunds (prorated on ``line_values``, the
    weighted amount of each line when placed, so later rule changes never
    alter an award).
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
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(referral__isnull=True),
                name="loyalty_award_one_per_order",
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
    multiplier.
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


class BrandExclusion(models.Model):
    """A brand whose products a coupon's range never discounts.

    Oscar has no brand model, so the exclusion is kept as Oscar's own
    ``Range.excluded_products`` (brands from a product attribute) or
    ``Range.excluded_categories`` (brands as categories); ``products`` records
    which exclusions this brand put there, so they can be taken back.
    """

    range = models.ForeignKey(
        "offer.Range",
        on_delete=models.CASCADE,
        related_name="brand_exclusions",
        verbose_name=_("Range"),
    )
    brand = models.CharField(_("Brand"), max_length=128)
    products = models.ManyToManyField("catalogue.Product", blank=True, related_name="+")

    class Meta:
        verbose_name = _("Brand exclusion")
        verbose_name_plural = _("Brand exclusions")
        constraints = [
            models.UniqueConstraint(fields=["range", "brand"], name="loyalty_brand_exclusion_once")
        ]

    def __str__(self):
        return self.brand


class Reward(models.Model):
    """Something the merchant offers for points: a discount, free shipping, a product."""

    class Kind(models.TextChoices):
        DISCOUNT = "discount", _("Fixed discount")
        FREE_SHIPPING = "free_shipping", _("Free shipping")
        FREE_PRODUCT = "free_product", _("Free product")

    name = models.CharField(_("Name"), max_length=128)
    description = models.TextField(_("Description"), blank=True)
    kind = models.CharField(_("Kind"), max_length=16, choices=Kind.choices)
    cost = models.PositiveIntegerField(_("Cost in points"))
    value = models.DecimalField(
        _("Discount value"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    product = models.ForeignKey(
        "catalogue.Product",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Free product"),
    )
    stock = models.PositiveIntegerField(
        _("How many can be claimed"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    claimed = models.PositiveIntegerField(_("Claimed"), default=0)
    starts_at = models.DateTimeField(_("Available from"), null=True, blank=True)
    ends_at = models.DateTimeField(_("Available until"), null=True, blank=True)
    code_valid_days = models.PositiveIntegerField(_("Days a claimed code stays valid"), default=30)

    class Meta:
        verbose_name = _("Reward")
        verbose_name_plural = _("Rewards")
        ordering = ["cost", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stock__isnull=True) | models.Q(claimed__lte=models.F("stock")),
                name="loyalty_reward_claimed_within_stock",
            ),
            models.CheckConstraint(condition=models.Q(cost__gt=0), name="loyalty_reward_cost_gt_0"),
        ]

    def __str__(self):
        return self.name

    @property
    def left(self):
        return None if self.stock is None else self.stock - self.claimed

    def is_available(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
            and (self.stock is None or self.claimed < self.stock)
        )


class Redemption(models.Model):
    """Points turned into a personal single-use voucher.

    Either at checkout (``reward`` empty: the points' value off the basket) or
    for a reward. ``spend`` is the ledger entry that paid for it; ``restore``
    the one that gave the points back, if that happened.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Not used yet")
        USED = "used", _("Used")
        RESTORED = "restored", _("Points returned")

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("Account")
    )
    points = models.PositiveIntegerField(_("Points"))
    value = models.DecimalField(_("Value"), max_digits=12, decimal_places=2)
    reward = models.ForeignKey(
        Reward,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemptions",
        verbose_name=_("Reward"),
    )
    voucher = models.OneToOneField(
        "voucher.Voucher",
        on_delete=models.SET_NULL,
        null=True,
        related_name="loyalty_redemption",
        verbose_name=_("Voucher"),
    )
    basket = models.ForeignKey(
        "basket.Basket", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    order = models.ForeignKey(
        "order.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="loyalty_redemptions",
        verbose_name=_("Order"),
    )
    status = models.CharField(
        _("Status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    created_at = models.DateTimeField(_("Created"), default=timezone.now)
    expires_at = models.DateTimeField(_("Expires"))

    class Meta:
        verbose_name = _("Redemption")
        verbose_name_plural = _("Redemptions")
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status="active", reward__isnull=True),
                name="loyalty_redemption_due_idx",
            )
        ]

    def __str__(self):
        return f"{self.points} points ({self.status})"


class OwnerCondition(CountCondition):
    """A count condition met only in the basket of the voucher's owner.

    Personal vouchers (points and rewards) use it, so a code passed on to
    someone else gives them nothing.
    """

    class Meta:
        proxy = True
        verbose_name = _("Owner-only condition")
        verbose_name_plural = _("Owner-only conditions")

    @property
    def name(self):
        return _("Personal voucher")

    @property
    def description(self):
        return _("Personal voucher")

    def is_satisfied(self, offer, basket):
        voucher = offer.get_voucher()
        if voucher is None or basket.owner_id is None:
            return False
        owned = Redemption.objects.filter(
            voucher=voucher, account__user_id=basket.owner_id, status=Redemption.Status.ACTIVE
        ).exists()
        return owned and super().is_satisfied(offer, basket)


class ReferralCode(models.Model):
    """A customer's own code for their refer-a-friend link."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="loyalty_referral_code",
        verbose_name=_("Customer"),
    )
    code = models.CharField(_("Code"), max_length=16, unique=True)
    visits = models.PositiveIntegerField(_("Link visits"), default=0)
    created_at = models.DateTimeField(_("Created"), default=timezone.now)

    class Meta:
        verbose_name = _("Referral code")
        verbose_name_plural = _("Referral codes")

    def __str__(self):
        return self.code


class Referral(models.Model):
    """A customer who signed up through another customer's link."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Signed up")
        REJECTED = "rejected", _("Not eligible")
        VOID = "void", _("Voided by staff")

    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="loyalty_referrals_made",
        verbose_name=_("Referrer"),
    )
    referred = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="loyalty_referral",
        verbose_name=_("Referred customer"),
    )
    status = models.CharField(
        _("Status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    reason = models.CharField(_("Why"), max_length=255, blank=True)
    welcome_voucher = models.ForeignKey(
        "voucher.Voucher",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("Welcome coupon"),
    )
    created_at = models.DateTimeField(_("Created"), default=timezone.now)

    class Meta:
        verbose_name = _("Referral")
        verbose_name_plural = _("Referrals")

    def __str__(self):
        return f"{self.referrer} -> {self.referred} ({self.status})"


class MarketingConsent(models.Model):
    """Whether the customer agreed to marketing emails, and when they said so."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="loyalty_consent",
        verbose_name=_("Customer"),
    )
    marketing = models.BooleanField(_("Marketing emails"), default=False)
    changed_at = models.DateTimeField(_("Changed"), default=timezone.now)

    class Meta:
        verbose_name = _("Marketing consent")
        verbose_name_plural = _("Marketing consents")

    def __str__(self):
        return f"{self.user}: {self.marketing}"
