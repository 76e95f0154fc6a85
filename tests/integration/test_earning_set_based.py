"""The default earning rule's set-based form gives what its Python methods give.

The backfill works a chunk of orders out in one SQL statement
(``EarningRule.orders_sql``); these tests draw random orders, campaigns and
settings and compare it, order by order, with ``awards.award_fields``.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from itertools import count

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oscar.apps.catalogue.categories import create_from_breadcrumbs
from oscar.core.loading import get_model
from oscar.test.factories import create_product

from oscar_loyalty import awards, backfill, earning
from oscar_loyalty.models import Account, BonusCampaign, PendingAward, Segment, Tier, TierStatus

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"),
        reason="SQLite has no exact decimals: the rule has no set-based form there",
    ),
]
Order = get_model("order", "Order")
Line = get_model("order", "Line")
Product = get_model("catalogue", "Product")
ProductCategory = get_model("catalogue", "ProductCategory")
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
numbers = count(1)

PATHS = ["Sport > Shoes", "Sport > Shirts", "Home", "Home > Kitchen", "Gifts"]


@pytest.fixture
def catalogue(db):
    """Products in categories; two variants of a parent filed only under the parent."""
    categories = {path: create_from_breadcrumbs(path) for path in PATHS}
    products = []
    for i, path in enumerate(PATHS):
        product = create_product(title=f"P{i}")
        ProductCategory.objects.create(product=product, category=categories[path])
        products.append(product)
    parent = create_product(title="Parent", structure="parent")
    ProductCategory.objects.create(product=parent, category=categories["Sport > Shoes"])
    products += [
        create_product(title=f"Variant {i}", parent=parent, structure="child") for i in range(2)
    ]
    products.append(create_product(title="Filed nowhere"))
    return {"categories": categories, "products": products, "parent": parent}


prices = st.decimals(min_value=0, max_value=D("9999.99"), places=2)
lines = st.lists(
    st.tuples(
        st.integers(min_value=-1, max_value=7),  # product index; -1: deleted product
        prices,
        st.decimals(min_value=0, max_value=D("300.00"), places=2),  # tax
        st.integers(min_value=1, max_value=5),
    ),
    min_size=0,
    max_size=4,
)
orders = st.lists(
    st.tuples(
        st.sampled_from(["default", "EUR", "JPY"]),
        st.integers(min_value=-40, max_value=40),  # days from T0
        lines,
    ),
    min_size=1,
    max_size=6,
)
campaigns = st.lists(
    st.tuples(
        st.sampled_from([D("0"), D("0.50"), D("1.25"), D("2"), D("3.00")]),
        st.one_of(
            st.tuples(st.just("product"), st.integers(min_value=0, max_value=7)),
            st.tuples(st.just("category"), st.sampled_from(PATHS + ["Sport"])),
        ),
        st.one_of(st.none(), st.integers(min_value=-30, max_value=10)),  # starts, days
        st.one_of(st.none(), st.integers(min_value=-10, max_value=30)),  # ends, days
    ),
    max_size=4,
)
rule_settings = st.fixed_dictionaries(
    {
        "OSCAR_LOYALTY_EARN_ON_TAX": st.booleans(),
        "OSCAR_LOYALTY_POINTS_PER_UNIT": st.sampled_from([D("0.1"), D("0.07"), D("1"), D("2.5")]),
        "OSCAR_LOYALTY_POINTS_PER_UNIT_BY_CURRENCY": st.sampled_from(
            [{}, {"EUR": D("0.2")}, {"EUR": D("0"), "JPY": D("0.013")}]
        ),
    }
)


def make_order(user, currency, placed, line_specs, products):
    currency = django_settings.OSCAR_DEFAULT_CURRENCY if currency == "default" else currency
    order = Order.objects.create(
        number=f"SB{next(numbers)}",
        user=user,
        currency=currency,
        total_incl_tax=0,
        total_excl_tax=0,
        status="Complete",
        date_placed=placed,
    )
    for index, price, tax, quantity in line_specs:
        product = products[index] if index >= 0 else None
        Line.objects.create(
            order=order,
            product=product,
            partner_name="P",
            title="Line",
            quantity=quantity,
            num_allocated=0,
            line_price_excl_tax=price,
            line_price_incl_tax=price + tax,
            line_price_before_discounts_excl_tax=price,
            line_price_before_discounts_incl_tax=price + tax,
        )
    return order


def make_tier(multiplier):
    return Tier.objects.create(name="T", level=1, threshold=D("100"), multiplier=multiplier)


def make_campaign(multiplier, target, starts, ends, catalogue):
    campaign = BonusCampaign.objects.create(
        name="C",
        multiplier=multiplier,
        starts_at=None if starts is None else T0 + timedelta(days=starts),
        ends_at=None if ends is None else T0 + timedelta(days=ends),
    )
    kind, what = target
    if kind == "product":
        campaign.products.add(catalogue["products"][what])
    else:
        campaign.categories.add(create_from_breadcrumbs(what))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    orders=orders,
    campaigns=campaigns,
    rule_settings=rule_settings,
    seconds=st.integers(0, 3),
    tier=st.sampled_from([None, "none", D("1.00"), D("1.50"), D("2.25")]),
)
def test_the_set_based_form_gives_what_the_python_rule_gives(
    customer, catalogue, orders, campaigns, rule_settings, seconds, tier
):
    """Lines, prices, taxes, exclusions, campaigns, currencies and the customer's tier."""
    with override_settings(**rule_settings):
        for campaign in campaigns:
            make_campaign(*campaign, catalogue)
        if tier is not None:  # "none": a status whose tier was deleted
            account, _created = Account.objects.get_or_create(user=customer)
            level = None if tier == "none" else make_tier(tier)
            TierStatus.objects.update_or_create(account=account, defaults={"tier": level})
        made = [
            # Orders at a campaign's edge: T0 + whole days, a second or two either side.
            make_order(
                customer,
                currency,
                T0 + timedelta(days=days, seconds=seconds - 2),
                specs,
                catalogue["products"],
            )
            for currency, days, specs in orders
        ]
        try:
            rule = earning.EarningRule()
            in_sql = earning.set_based_values(rule, [o.pk for o in made])
            assert in_sql is not None
            for order in made:
                fields = awards.award_fields(earning.EarningRule(), order)
                points, line_values = in_sql.get(order.pk, (0, {}))
                if fields is None:
                    assert points <= 0, (order, points)
                else:
                    assert points == fields["points"]
                    # Each value written exactly as Python writes the Decimal.
                    assert line_values == fields["line_values"]
        finally:
            Line.objects.filter(order__in=made).delete()
            Order.objects.filter(pk__in=[o.pk for o in made]).delete()
            BonusCampaign.objects.all().delete()
            TierStatus.objects.all().delete()
            Tier.objects.all().delete()


class OwnAmounts(earning.EarningRule):
    """Every line counts 100, whatever was paid."""

    def line_amount(self, line):
        return D(100)


def test_a_rule_that_changes_the_sums_has_no_set_based_form(customer, catalogue):
    order = make_order(customer, "default", T0, [(0, D("100.00"), D(0), 1)], catalogue["products"])
    assert earning.set_based_values(OwnAmounts(), [order.pk]) is None
    line = order.lines.get()
    assert earning.set_based_values(earning.EarningRule(), [order.pk]) == {
        order.pk: (10, {str(line.pk): "100.00"})
    }


@override_settings(OSCAR_LOYALTY_EARNING_RULE="tests.integration.test_earning_set_based.OwnAmounts")
def test_the_backfill_keeps_the_python_path_for_a_stores_own_rule(customer, catalogue):
    specs = [(0, D("5.00"), D(0), 1), (1, D("2.00"), D(0), 3)]
    order = make_order(customer, "default", T0, specs, catalogue["products"])
    assert backfill.backfill(T0 - timedelta(days=1)) == 1
    award = PendingAward.objects.get(order=order)
    assert award.points == 20  # 100 a line, not the 0 points that 7.00 paid earns
    assert award.line_values == {str(line.pk): "100" for line in order.lines.all()}


def test_the_backfill_gives_what_recording_each_order_gives(customer, catalogue):
    """Campaigns, refunds and currencies together: one chunk in SQL, the same awards."""
    products = catalogue["products"]
    BonusCampaign.objects.create(name="Double sport", multiplier=2).categories.add(
        create_from_breadcrumbs("Sport")
    )
    BonusCampaign.objects.create(name="No gifts", multiplier=0).products.add(products[4])
    account, _created = Account.objects.get_or_create(user=customer)
    TierStatus.objects.create(account=account, tier=make_tier(D("1.50")))
    made = [
        make_order(customer, "default", T0, [(0, D("19.99"), D("4.20"), 1)], products),
        make_order(
            customer, "default", T0, [(4, D("500.00"), D(0), 1), (7, D("30"), D(0), 1)], products
        ),
        make_order(customer, "EUR", T0, [(2, D("80.00"), D(0), 2)], products),
        make_order(
            customer, "default", T0, [(2, D("40.00"), D(0), 1), (3, D("40.00"), D(0), 1)], products
        ),
    ]
    Line.objects.filter(pk=made[3].lines.first().pk).update(status="Refunded")
    with override_settings(OSCAR_LOYALTY_POINTS_PER_UNIT_BY_CURRENCY={"EUR": D("0.5")}):
        for order in made:
            awards.record_award(order)
        expected = {
            a.order_id: (a.points, a.original_points, a.line_values, a.matures_at)
            for a in PendingAward.objects.all()
        }
        PendingAward.objects.all().delete()
        assert backfill.backfill(T0 - timedelta(days=1)) == len(expected)
    got = {
        a.order_id: (a.points, a.original_points, a.line_values, a.matures_at)
        for a in PendingAward.objects.all()
    }
    assert got == expected
    assert expected[made[0].pk][0] == 7  # 24.19 x 2 x 1.50 = 72.57: 7 points
    assert expected[made[3].pk][0] == 6  # 80 x 1.50 = 12 points, half refunded: 6


def test_a_campaign_for_a_segment_keeps_the_backfill_on_the_python_path(customer, catalogue):
    """Membership is judged per customer and order date in Python: the SQL form
    would give a segment's double points to everyone."""
    products = catalogue["products"]
    regulars = Segment.objects.create(name="Regulars", min_orders=5)
    BonusCampaign.objects.create(name="Double for regulars", multiplier=2, segment=regulars)
    order = make_order(customer, "default", T0, [(0, D("100.00"), D(0), 1)], products)
    assert earning.set_based_values(earning.EarningRule(), [order.pk]) is None
    assert backfill.backfill(T0 - timedelta(days=1)) == 1
    assert PendingAward.objects.get(order=order).points == 10
