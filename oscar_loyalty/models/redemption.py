"""Spending points: the rewards catalogue, redemptions, the personal voucher condition
and the points voucher's discount.

``redemption`` writes these rows (the points move through the ledger);
rewards are edited by staff in the dashboard.
"""

from decimal import ROUND_DOWN, Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oscar.core.loading import get_class, get_model
from oscar.templatetags.currency_filters import currency

from ..i18n import translated
from .ledger import Account
from .referrals import Referral
from .segments import WinBackCoupon
from .tiers import Tier

# get_model imports Oscar's offer models (and their condition classes) even
# though this app is listed, and so loaded, before Oscar's.
Condition = get_model("offer", "Condition")
CountCondition = get_model("offer", "CountCondition")
Benefit = get_model("offer", "Benefit")
BasketDiscount = get_class("offer.results", "BasketDiscount")
ZERO_DISCOUNT = get_class("offer.results", "ZERO_DISCOUNT")
apply_discount = get_class("offer.benefits", "apply_discount")
CENT = Decimal("0.01")


class Reward(models.Model):
    """Something the merchant offers for points: a discount, free shipping, a product."""

    class Kind(models.TextChoices):
        DISCOUNT = "discount", _("Fixed discount")
        FREE_SHIPPING = "free_shipping", _("Free shipping")
        FREE_PRODUCT = "free_product", _("Free product")

    name = models.CharField(_("Name"), max_length=128)
    # The name in other languages, {language code: name}: pages show
    # ``display_name``, the reader's language or ``name``.
    name_translations = models.JSONField(_("Name in other languages"), default=dict, blank=True)
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
    min_tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rewards",
        verbose_name=_("Only for tier"),
        help_text=_("Only customers in this tier or above may claim it. Empty: everyone."),
    )

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
    def display_name(self) -> str:
        """The name in the reader's language, if the merchant translated it."""
        return translated(self.name_translations, self.name)

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

    Personal vouchers use it (points and reward codes, and a referred friend's
    welcome coupon), so a code passed on to someone else gives them nothing.
    """

    class Meta:
        proxy = True
        verbose_name = _("Owner-only condition")
        verbose_name_plural = _("Owner-only conditions")

    @classmethod
    def path(cls) -> str:
        """What a Condition's ``proxy_class`` holds to be one of these.

        The import path stores use (``oscar_loyalty.models``), not this module's:
        conditions saved before the models were split hold it, so it never moves.
        """
        return f"oscar_loyalty.models.{cls.__name__}"

    @classmethod
    def binds(cls, voucher) -> bool:
        """Whether the voucher is personal (any of its offers has this condition)."""
        return any(offer.condition.proxy_class == cls.path() for offer in voucher.offers.all())

    @staticmethod
    def owns(voucher, user_id) -> bool:
        """Whether the personal voucher is this customer's: bought with their points,
        their welcome coupon (unless staff voided the referral), or their win-back coupon."""
        if user_id is None:
            return False
        return (
            Redemption.objects.filter(
                voucher=voucher, account__user_id=user_id, status=Redemption.Status.ACTIVE
            ).exists()
            or Referral.objects.filter(welcome_voucher=voucher, referred_id=user_id)
            .exclude(status=Referral.Status.VOID)
            .exists()
            or WinBackCoupon.objects.filter(voucher=voucher, user_id=user_id).exists()
        )

    @property
    def name(self):
        return _("Personal voucher")

    @property
    def description(self):
        return _("Personal voucher")

    def is_satisfied(self, offer, basket):
        voucher = offer.get_voucher()
        if voucher is None or not self.owns(voucher, basket.owner_id):
            return False
        # Lines another offer (a coupon) discounted still count: personal
        # vouchers are designed to stack with the store's coupons.
        return any(self.can_apply_condition(line) for line in basket.all_lines())


class PointsBenefit(Benefit):
    """A points voucher's discount: its value, within the share points may pay.

    Applied last (the points offer has the lowest priority), it pays out of
    what is left of each line after the store's coupons and offers, never more
    than ``OSCAR_LOYALTY_MAX_BASKET_SHARE`` of it, in whole points. So a coupon
    and points stack, and a basket that shrank is never paid for mostly by
    points; the basket and checkout pages then give back the points the
    voucher can no longer use (``redemption.fit_to_basket``).
    """

    class Meta:
        proxy = True
        verbose_name = _("Points discount")
        verbose_name_plural = _("Points discounts")

    @classmethod
    def path(cls) -> str:
        """What a Benefit's ``proxy_class`` holds to be one of these (see ``OwnerCondition``)."""
        return f"oscar_loyalty.models.{cls.__name__}"

    @property
    def name(self):
        return _("Points: up to %(value)s off") % {"value": currency(self.value)}

    @property
    def description(self):
        return self.name

    def apply(self, basket, condition, offer, **kwargs):
        from ..redemption import payable_by_points, point_value, points_left_on

        point = point_value(basket.currency)
        if point is None:  # points cannot pay in this basket's currency
            return ZERO_DISCOUNT
        lines = []
        for line in basket.all_lines():
            if self.can_apply_benefit(line):
                left = points_left_on(line)
                if left > 0:
                    lines.append((line, left))
        total = sum((left for _line, left in lines), Decimal(0))
        discount = min(self.value, payable_by_points(total, point))
        if discount <= 0:
            return ZERO_DISCOUNT
        # Spread over the lines in proportion to what is left of each.
        amounts = [
            (discount * left / total).quantize(CENT, rounding=ROUND_DOWN) for _l, left in lines
        ]
        short = discount - sum(amounts)
        for i, (_line, left) in enumerate(lines):
            extra = min(short, left - amounts[i])
            amounts[i] += extra
            short -= extra
        for (line, _left), amount in zip(lines, amounts, strict=True):
            if amount > 0:
                apply_discount(line, amount, line.quantity, offer)
        return BasketDiscount(discount)
