"""How many points an order, or an action (joining, a birthday, a review...), is worth.

The rule is one class, ``EarningRule``. A store that wants another rule
subclasses it and names the subclass in ``OSCAR_LOYALTY_EARNING_RULE``; no fork
needed. It only computes: recording and posting points is awards' and the
ledger's job.

Rounding: each line's weighted amount (amount paid x campaign multiplier) is
kept exact; the order's points are the sum times the rate, rounded down once.
So $19.99 at 1 point per $10 earns 1 point, and two $5 lines earn 1 point too.
"""

from decimal import ROUND_FLOOR, Decimal

from django.conf import settings
from django.utils import timezone
from oscar.core.loading import get_model

from .conf import get_rule, loyalty_settings
from .models import BonusAction, BonusCampaign
from .tiers import multiplier_for

ProductCategory = get_model("catalogue", "ProductCategory")


class EarningRule:
    """Points for what a signed-in customer paid for products.

    Amounts are after discounts (vouchers and offers, points included), without
    shipping, with or without tax by ``OSCAR_LOYALTY_EARN_ON_TAX``.
    """

    def rate(self, currency: str) -> Decimal:
        """Points per unit of ``currency``; 0 for a currency the store set no rate for."""
        rates = loyalty_settings.POINTS_PER_UNIT_BY_CURRENCY
        if currency in rates:
            return rates[currency]
        if currency == settings.OSCAR_DEFAULT_CURRENCY:
            return loyalty_settings.POINTS_PER_UNIT
        return Decimal(0)

    def line_amount(self, line) -> Decimal:
        if loyalty_settings.EARN_ON_TAX:
            return line.line_price_incl_tax
        return line.line_price_excl_tax

    def line_values(self, order, lines=None) -> dict[str, Decimal]:
        """Each line's amount times its campaign multiplier and the customer's tier
        multiplier, by line id.

        ``lines`` may be given (with their products) to save the query. The
        award keeps these values, so a refund replays the multipliers of the
        day the order was placed.
        """
        if lines is None:
            lines = list(order.lines.select_related("product"))
        multipliers = self.multipliers(lines, order.date_placed or timezone.now(), order.user)
        tier = self.tier_multiplier(order)
        return {
            str(line.pk): self.line_amount(line) * multipliers.get(line.pk, Decimal(1)) * tier
            for line in lines
        }

    def tier_multiplier(self, order) -> Decimal:
        """The multiplier of the tier the order's customer is in (1 for none): one query."""
        return multiplier_for(order.user_id)

    def points(self, currency: str, value: Decimal) -> int:
        points = (value * self.rate(currency)).to_integral_value(rounding=ROUND_FLOOR)
        return max(int(points), 0)

    def multipliers(self, lines, at, user=None) -> dict[int, Decimal]:
        """Campaign multipliers by line id, in a constant number of queries.

        A campaign for a segment counts only for ``user`` in it (one query a
        segment campaign running at ``at``); with no user, only campaigns for
        everyone count.
        """
        campaigns = self.running(at, user)
        if not campaigns:
            return {}
        # A variant earns like its parent: campaigns name parents and their categories.
        owners = {line.pk: {line.product_id, line_parent(line)} - {None} for line in lines}
        paths = {}
        for product_id, path in ProductCategory.objects.filter(
            product_id__in=set().union(*owners.values())
        ).values_list("product_id", "category__path"):
            paths.setdefault(product_id, []).append(path)
        # Each campaign's products and category paths, read once, not once a line.
        targets = [
            (
                c.multiplier,
                {p.pk for p in c.products.all()},
                [cat.path for cat in c.categories.all()],
            )
            for c in campaigns
        ]
        result = {}
        for line in lines:
            line_paths = [p for pid in owners[line.pk] for p in paths.get(pid, [])]
            matched = [
                multiplier
                for multiplier, product_ids, category_paths in targets
                if owners[line.pk] & product_ids
                or any(p.startswith(c) for c in category_paths for p in line_paths)
            ]
            if matched:
                result[line.pk] = Decimal(0) if Decimal(0) in matched else max(matched)
        return result

    def action_points(self, action: str, user, settings: BonusAction) -> int:
        """Points for ``action`` (one of ``BonusAction.Action``) done by ``user``.

        ``settings`` is the merchant's (on, points, caps; the caps are applied
        by ``bonus``). Override it to pay, say, more for a long review; 0
        gives nothing.
        """
        return settings.points if settings.enabled else 0

    def profile_complete(self, user) -> bool:
        """Whether the customer's profile is complete enough for the profile bonus."""
        return bool(user.first_name.strip() and user.last_name.strip() and user.email)

    def running(self, at, user=None) -> list[BonusCampaign]:
        """The campaigns running at ``at`` that apply to ``user`` (None: to everyone)."""
        from .segments import is_member

        return [
            c
            for c in self.campaigns()
            if (c.starts_at is None or c.starts_at <= at)
            and (c.ends_at is None or at < c.ends_at)
            and (c.segment_id is None or (user is not None and is_member(c.segment, user, at)))
        ]

    def campaigns(self) -> list[BonusCampaign]:
        """All campaigns, loaded once per rule instance (one per order, or per backfill)."""
        if not hasattr(self, "_campaigns"):
            self._campaigns = list(
                BonusCampaign.objects.select_related("segment").prefetch_related(
                    "products", "categories"
                )
            )
        return self._campaigns


def line_parent(line):
    product = line.product
    return product.parent_id if product is not None else None


def get_earning_rule() -> EarningRule:
    """The store's earning rule (``OSCAR_LOYALTY_EARNING_RULE``)."""
    return get_rule("EARNING_RULE")
