"""How many points an order, or an action (joining, a birthday, a review...), is worth.

The rule is one class, ``EarningRule``. A store that wants another rule
subclasses it and names the subclass in ``OSCAR_LOYALTY_EARNING_RULE``; no fork
needed. It only computes: recording and posting points is awards' and the
ledger's job.

Rounding: each line's weighted amount (amount paid x campaign multiplier x
tier multiplier) is kept exact; the order's points are the sum times the
rate, rounded down once.
So $19.99 at 1 point per $10 earns 1 point, and two $5 lines earn 1 point too.

The default rule also has a set-based form, ``EarningRule.orders_sql``: one
SQL statement working out many orders at once, with the same amounts,
multipliers and rounding, so the backfill need not run Python per order. A
store's own rule that changes how an order is worked out keeps the Python
path (``orders_sql`` returns None for it) unless it gives its own SQL form.

What the shop shows before an order exists ("earn N points" on a product, in
the basket, at checkout) is worked out by the same rule: ``estimate`` dresses
the basket or product as an order placed now and asks ``order_points``, so a
store's own rule (or a tier multiplier added to it) changes the promise and
the award alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

from django.conf import settings
from django.db import connection
from django.utils import timezone
from oscar.core.loading import get_model

from .conf import get_rule, loyalty_settings
from .models import Account, BonusAction, BonusCampaign, Tier, TierStatus
from .tiers import multiplier_for

ProductCategory = get_model("catalogue", "ProductCategory")
Category = get_model("catalogue", "Category")
Product = get_model("catalogue", "Product")
Line = get_model("order", "Line")
Order = get_model("order", "Order")

# The methods the set-based form mirrors: a subclass that overrides one of them
# (and not ``orders_sql``) is worked out in Python.
MIRRORED = (
    "rate",
    "order_points",
    "line_campaigns",
    "category_paths",
    "line_amount",
    "line_values",
    "points",
    "multipliers",
    "campaigns",
    "running",
    "tier_multiplier",
)


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

    def order_points(self, order, lines=None) -> tuple[int, dict[str, Decimal]]:
        """What ``order`` earns, and each line's weighted amount (see ``line_values``)."""
        values = self.line_values(order, lines)
        return self.points(order.currency, sum(values.values(), Decimal(0))), values

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
        result = {}
        for line_id, matched in self.line_campaigns(lines, at, user).items():
            multipliers = [c.multiplier for c in matched]
            result[line_id] = Decimal(0) if Decimal(0) in multipliers else max(multipliers)
        return result

    def line_campaigns(self, lines, at, user=None) -> dict[int, list[BonusCampaign]]:
        """The campaigns running at ``at`` for ``user`` that cover each line, by line id."""
        campaigns = self.running(at, user)
        if not campaigns:
            return {}
        # A variant earns like its parent: campaigns name parents and their categories.
        owners = {line.pk: {line.product_id, line_parent(line)} - {None} for line in lines}
        paths = self.category_paths(set().union(*owners.values()))
        # Each campaign's products and category paths, read once, not once a line.
        targets = [
            (
                c,
                {p.pk for p in c.products.all()},
                [cat.path for cat in c.categories.all()],
            )
            for c in campaigns
        ]
        result = {}
        for line in lines:
            line_paths = [p for pid in owners[line.pk] for p in paths.get(pid, [])]
            matched = [
                campaign
                for campaign, product_ids, category_paths in targets
                if owners[line.pk] & product_ids
                or any(p.startswith(c) for c in category_paths for p in line_paths)
            ]
            if matched:
                result[line.pk] = matched
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

    def category_paths(self, product_ids: set[int]) -> dict[int, list[str]]:
        """The category paths of these products, each product read once per rule instance."""
        known = self.__dict__.setdefault("_paths", {})
        missing = product_ids - known.keys()
        if missing:
            for product_id in missing:
                known[product_id] = []
            for product_id, path in ProductCategory.objects.filter(
                product_id__in=missing
            ).values_list("product_id", "category__path"):
                known[product_id].append(path)
        return {pid: known[pid] for pid in product_ids}

    def campaigns(self) -> list[BonusCampaign]:
        """All campaigns, loaded once per rule instance (one per order, or per backfill)."""
        if not hasattr(self, "_campaigns"):
            self._campaigns = list(
                BonusCampaign.objects.select_related("segment").prefetch_related(
                    "products", "categories"
                )
            )
        return self._campaigns

    def estimate(self, user, currency: str, lines: list[EstimateLine]) -> Estimate:
        """What ``lines`` would earn ``user`` as an order placed now (a guest: as a member).

        The lines are dressed as an order and priced by ``order_points``; the
        campaigns that weight them come with the answer, for the page to name.
        """
        now = timezone.now()
        member = user if getattr(user, "is_authenticated", False) else None
        order = EstimateOrder(user=member, currency=currency, date_placed=now, line_list=lines)
        points, _values = self.order_points(order, lines)
        campaigns = self.line_campaigns(lines, now, member)
        boosting = {c.pk: c for matched in campaigns.values() for c in matched if c.multiplier > 1}
        return Estimate(points, sorted(boosting.values(), key=lambda c: -c.multiplier))

    def basket_estimate(self, basket, user) -> Estimate:
        """What ``basket`` would earn, after its discounts (points vouchers included)."""
        lines = []
        for line in basket.all_lines():
            excl = line.line_price_excl_tax_incl_discounts
            incl = line.line_price_incl_tax_incl_discounts if line.is_tax_known else None
            lines.append(EstimateLine(line.pk, line.product, excl, incl, line.quantity))
        return self.estimate(user, basket.currency, lines)

    def product_estimate(self, product, price, user) -> Estimate:
        """What one unit of ``product`` at ``price`` (Oscar's ``Price``) would earn."""
        incl = price.incl_tax if price.is_tax_known else None
        line = EstimateLine(0, product, price.excl_tax, incl, 1)
        return self.estimate(user, price.currency, [line])

    def orders_sql(self, order_ids: list[int]) -> tuple[str, list] | None:
        """This rule as one SQL query over the orders ``order_ids``, or None.

        The query gives a row ``(order_id, user_id, date_placed, points,
        line_values)``, columns so named, per order that has lines (points may
        be 0; ``line_values`` as JSON, each value written as ``str()`` of the
        Python rule's Decimal). It reads the
        campaigns itself; it knows nothing of refunds (the caller leaves
        partly refunded orders to ``award_fields``).

        None when the rule cannot be worked out in SQL: on SQLite (no exact
        decimals), or for a subclass that overrides how an order is worked out
        (``MIRRORED``) without giving its own ``orders_sql``.
        """
        if not self.has_set_based_form() or not order_ids:
            return None
        qn = connection.ops.quote_name
        amount = (
            "l.line_price_incl_tax" if loyalty_settings.EARN_ON_TAX else "l.line_price_excl_tax"
        )
        factors, campaign_joins = [], ""
        campaign, campaign_params = "NULL", []
        if self.campaigns():
            campaign, campaign_params = _campaign_multiplier_sql()
            factors.append(("v.m", True))
            campaign_joins = f"""
                LEFT JOIN {qn(Product._meta.db_table)} p ON p.id = l.product_id
                JOIN {qn(Order._meta.db_table)} lo ON lo.id = l.order_id"""
        customer_join, customer_params = "", []
        customers = self.customer_multipliers_sql()
        if customers is not None:
            customer_join = f"LEFT JOIN ({customers[0]}) cm ON cm.user_id = o.user_id"
            customer_params = customers[1]
            factors.append(("cm.multiplier", False))
        value, text = _weighted("v.amount", factors)
        ids = ", ".join(["%s"] * len(order_ids))
        rates = {settings.OSCAR_DEFAULT_CURRENCY: loyalty_settings.POINTS_PER_UNIT}
        rates.update(loyalty_settings.POINTS_PER_UNIT_BY_CURRENCY)
        rate = "CASE o.currency " + " ".join("WHEN %s THEN %s" for _ in rates) + " ELSE 0 END"
        rate_params = [x for pair in rates.items() for x in pair]
        if connection.vendor == "mysql":
            line_values = f"JSON_OBJECTAGG(CAST(v.id AS CHAR), {text})"
            integer = "SIGNED"
        else:
            line_values = f"jsonb_object_agg(CAST(v.id AS VARCHAR(20)), {text})"
            integer = "BIGINT"
        sql = f"""
            SELECT o.id AS order_id, o.user_id AS user_id, o.date_placed AS date_placed,
                   CAST(FLOOR(SUM({value}) * {rate}) AS {integer}) AS points,
                   {line_values} AS line_values
            FROM {qn(Order._meta.db_table)} o
            JOIN (
                SELECT l.id, l.order_id, {amount} AS amount, {campaign} AS m
                FROM {qn(Line._meta.db_table)} l {campaign_joins}
                WHERE l.order_id IN ({ids})
            ) v ON v.order_id = o.id
            {customer_join}
            WHERE o.id IN ({ids})
            GROUP BY o.id, o.user_id, o.date_placed, o.currency
        """
        # The ids twice: PostgreSQL does not carry "IN" across the join, and
        # would otherwise read every order.
        params = [*rate_params, *campaign_params, *order_ids, *customer_params, *order_ids]
        return sql, params

    def has_set_based_form(self) -> bool:
        """Whether ``orders_sql`` gives a query: see its docstring."""
        if connection.vendor not in ("postgresql", "mysql"):
            return False
        cls = type(self)
        if cls.orders_sql is not EarningRule.orders_sql:
            return True
        if any(c.segment_id is not None for c in self.campaigns()):
            return False  # a segment's campaign: membership is worked out in Python
        return all(getattr(cls, name) is getattr(EarningRule, name) for name in MIRRORED)

    def customer_multipliers_sql(self) -> tuple[str, list] | None:
        """A query of ``(user_id, multiplier)`` rows weighting whole orders, or None.

        The seam for a per-customer multiplier in the set-based form: each
        line's weighted amount is multiplied by its customer's multiplier
        (customers not listed: 1), as ``tier_multiplier`` multiplies it in
        Python. By default: the multiplier of each customer's tier.
        """
        qn = connection.ops.quote_name
        return (
            f"""SELECT a.user_id AS user_id, t.multiplier AS multiplier
            FROM {qn(TierStatus._meta.db_table)} ts
            JOIN {qn(Account._meta.db_table)} a ON a.id = ts.account_id
            JOIN {qn(Tier._meta.db_table)} t ON t.id = ts.tier_id
            WHERE a.user_id IS NOT NULL""",
            [],
        )


def set_based_values(
    rule: EarningRule, order_ids: list[int]
) -> dict[int, tuple[int, dict[str, str]]] | None:
    """``(points, line_values)`` by order id, from ``rule.orders_sql`` (None: it has none)."""
    form = rule.orders_sql(order_ids)
    if form is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(*form)
        rows = cursor.fetchall()
    return {
        order_id: (points, json.loads(values) if isinstance(values, str) else values)
        for order_id, _user, _placed, points, values in rows
    }


def _campaign_multiplier_sql() -> tuple[str, list]:
    """A line's campaign multiplier at its order's date, as ``multipliers`` picks it.

    Correlated on ``l`` (the line), ``p`` (its product) and ``lo`` (its
    order): NULL when no campaign covers the line, 0 when one excludes it,
    else the highest multiplier. A variant earns like its parent.
    """
    qn = connection.ops.quote_name
    products = BonusCampaign.products.through
    categories = BonusCampaign.categories.through
    owner = "(pc.product_id = l.product_id OR pc.product_id = p.parent_id)"
    sql = f"""(
        SELECT CASE WHEN MIN(c.multiplier) = 0 THEN 0 ELSE MAX(c.multiplier) END
        FROM {qn(BonusCampaign._meta.db_table)} c
        WHERE (c.starts_at IS NULL OR c.starts_at <= lo.date_placed)
          AND (c.ends_at IS NULL OR lo.date_placed < c.ends_at)
          AND (EXISTS (SELECT 1 FROM {qn(products._meta.db_table)} cp
                       WHERE cp.bonuscampaign_id = c.id
                         AND (cp.product_id = l.product_id OR cp.product_id = p.parent_id))
               OR EXISTS (SELECT 1 FROM {qn(categories._meta.db_table)} cc
                          JOIN {qn(Category._meta.db_table)} cat ON cat.id = cc.category_id
                          JOIN {qn(ProductCategory._meta.db_table)} pc ON {owner}
                          JOIN {qn(Category._meta.db_table)} lc ON lc.id = pc.category_id
                          WHERE cc.bonuscampaign_id = c.id
                            AND SUBSTR(lc.path, 1, LENGTH(cat.path)) = cat.path))
    )"""
    return sql, []


def _weighted(amount: str, factors: list[tuple[str, bool]]) -> tuple[str, str]:
    """SQL for an amount times nullable factors (NULL: 1), as a number and as text.

    The text is what ``str()`` of the Python rule's Decimal gives: a missing
    factor multiplies nothing (Python multiplies by ``Decimal(1)``, keeping
    the scale), and a campaign's 0 (``zero_is_int``) is Python's
    ``Decimal(0)``. Each case is its own branch, because MariaDB gives every
    branch of a CASE the largest scale among them.
    """
    value = " * ".join([amount, *(f"COALESCE({f}, 1)" for f, _zero in factors)])
    text_type = "CHAR" if connection.vendor == "mysql" else "VARCHAR(64)"
    branches = [([], [])]
    for factor, zero_is_int in factors:
        grown = []
        for conditions, terms in branches:
            grown.append(([*conditions, f"{factor} IS NULL"], terms))
            if zero_is_int:
                grown.append(([*conditions, f"{factor} = 0"], [*terms, "0"]))
            grown.append(([*conditions, f"{factor} IS NOT NULL"], [*terms, factor]))
        branches = grown
    if len(branches) == 1:
        return value, f"CAST({amount} AS {text_type})"
    cases = " ".join(
        f"WHEN {' AND '.join(conditions)} THEN CAST({' * '.join([amount, *terms])} AS {text_type})"
        for conditions, terms in branches
    )
    return value, f"CASE {cases} END"


@dataclass
class EstimateLine:
    """A basket line or a product, shaped as the order line the rule reads."""

    pk: int
    product: object
    line_price_excl_tax: Decimal
    _incl_tax: Decimal | None
    quantity: int = 1

    @property
    def product_id(self):
        return self.product.pk if self.product is not None else None

    @property
    def line_price_incl_tax(self) -> Decimal:
        """Where the tax is not known yet, the price without it (the smaller promise)."""
        return self.line_price_excl_tax if self._incl_tax is None else self._incl_tax


@dataclass
class EstimateOrder:
    """A basket or product seen as an order placed now, for ``order_points``."""

    user: object
    currency: str
    date_placed: datetime
    line_list: list[EstimateLine] = field(default_factory=list)

    @property
    def user_id(self):
        return getattr(self.user, "pk", None)


@dataclass
class Estimate:
    """What something would earn, and the bonus campaigns making it more."""

    points: int
    campaigns: list[BonusCampaign] = field(default_factory=list)


def line_parent(line):
    product = line.product
    return product.parent_id if product is not None else None


def get_earning_rule() -> EarningRule:
    """The store's earning rule (``OSCAR_LOYALTY_EARNING_RULE``)."""
    return get_rule("EARNING_RULE")
