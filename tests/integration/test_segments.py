"""Segments: customers picked by rules, evaluated as one statement."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oscar.core.loading import get_model
from oscar.test.factories import create_product

from oscar_loyalty import segments
from oscar_loyalty.consent import set_marketing_consent
from oscar_loyalty.models import MarketingConsent, Segment

pytestmark = pytest.mark.django_db
User = get_model("auth", "User")
Order = get_model("order", "Order")
Line = get_model("order", "Line")
Category = get_model("catalogue", "Category")
Partner = get_model("partner", "Partner")
NOW = datetime(2026, 9, 1, 12, tzinfo=UTC)


def person(name, **kwargs):
    return User.objects.create_user(name, f"{name}@example.com", "x", **kwargs)


def order(user, days_ago, total="50.00", products=(), status="Pending", currency="USD"):
    placed = Order.objects.create(
        number=f"{user.pk}-{Order.objects.count()}",
        user=user,
        currency=currency,
        total_incl_tax=D(total),
        total_excl_tax=D(total),
        date_placed=NOW - timedelta(days=days_ago),
        status=status,
    )
    partner = Partner.objects.get_or_create(name="P")[0]
    for product in products:
        Line.objects.create(
            order=placed,
            product=product,
            partner=partner,
            title=product.title,
            quantity=1,
            num_allocated=0,
            line_price_incl_tax=D(total),
            line_price_excl_tax=D(total),
            line_price_before_discounts_incl_tax=D(total),
            line_price_before_discounts_excl_tax=D(total),
        )
    return placed


def names(segment):
    return sorted(segments.members(segment, NOW).values_list("username", flat=True))


@pytest.fixture
def shop():
    """ana: 3 orders, $300, last 10 days ago; ben: 1 order of $40, 200 days ago;
    cris: never ordered; dani: 2 orders, one cancelled; staff and inactive ignored."""
    ana, ben, cris, dani = (person(n) for n in ("ana", "ben", "cris", "dani"))
    for days in (10, 40, 100):
        order(ana, days, "100.00")
    order(ben, 200, "40.00")
    order(dani, 5, "70.00")
    order(dani, 6, "70.00", status="Cancelled")
    order(dani, 7, "999.00", currency="EUR")  # another currency: not counted
    order(person("boss", is_staff=True), 1, "500.00")
    order(person("gone", is_active=False), 1, "500.00")
    return ana, ben, cris, dani


@pytest.mark.parametrize(
    "rules,expected",
    [
        ({}, ["ana", "ben", "cris", "dani"]),
        ({"min_orders": 2}, ["ana"]),
        ({"min_orders": 1, "max_orders": 1}, ["ben", "dani"]),
        ({"max_orders": 0}, ["cris"]),
        ({"max_orders": 1}, ["ben", "cris", "dani"]),
        ({"min_spend": D("100")}, ["ana"]),
        ({"max_spend": D("50")}, ["ben", "cris"]),
        ({"min_days_since_order": 90}, ["ben"]),
        ({"max_days_since_order": 30}, ["ana", "dani"]),
        ({"min_orders": 1, "min_days_since_order": 8, "max_days_since_order": 365}, ["ana", "ben"]),
    ],
)
def test_order_rules(shop, rules, expected):
    assert names(Segment.objects.create(name="s", **rules)) == expected


def test_bought_categories_with_their_subcategories_and_variants(shop):
    ana, ben, cris, dani = shop
    shoes = Category.add_root(name="Shoes")
    trail = shoes.add_child(name="Trail")
    parent = create_product(structure="parent", title="Boot")
    parent.categories.add(trail)
    variant = create_product(parent=parent, structure="child", title="Boot 42")
    order(ben, 300, "80.00", products=[variant])
    order(cris, 300, "80.00", products=[create_product(title="Mug")])
    segment = Segment.objects.create(name="shoes")
    segment.categories.add(shoes)
    assert names(segment) == ["ben"]


def test_bought_brands(shop):
    ana, ben, cris, dani = shop
    order(ana, 1, "20.00", products=[create_product(title="Tee", attributes={"brand": "Andes"})])
    order(ben, 1, "20.00", products=[create_product(title="Cap", attributes={"brand": "Cumbre"})])
    assert names(Segment.objects.create(name="b", brands=" andes , Nope")) == ["ana"]


def test_marketing_consent(shop):
    ana, ben, cris, dani = shop
    set_marketing_consent(ana, True, MarketingConsent.Source.ACCOUNT)
    set_marketing_consent(ben, False, MarketingConsent.Source.ACCOUNT)
    assert names(Segment.objects.create(name="y", marketing="yes")) == ["ana"]
    assert names(Segment.objects.create(name="n", marketing="no")) == ["ben", "cris", "dani"]


def test_a_segment_is_one_statement_and_is_read_in_chunks(shop, django_assert_num_queries):
    segment = Segment.objects.create(name="s", min_orders=1, min_spend=D("10"))
    segment.categories.add(Category.add_root(name="Any"))
    segment = Segment.objects.get(pk=segment.pk)
    with CaptureQueriesContext(connection) as queries:
        segments.count(segment, NOW)
    assert len(queries) == 2  # the categories, then the count
    plain = Segment.objects.create(name="plain", max_orders=1)
    with django_assert_num_queries(4):  # its categories, two chunks of two, an empty one
        chunks = list(segments.member_id_chunks(plain, chunk_size=2, now=NOW))
    assert [len(c) for c in chunks] == [2, 1]
    assert sorted(sum(chunks, [])) == sorted(
        segments.members(plain, NOW).values_list("pk", flat=True)
    )


def test_one_customer_is_asked_alone(shop):
    ana, ben, cris, dani = shop
    segment = Segment.objects.create(name="s", min_orders=2)
    assert segments.is_member(segment, ana, NOW)
    assert not segments.is_member(segment, ben, NOW)
    assert not segments.is_member(segment, None, NOW)


def test_an_order_being_placed_does_not_count_for_the_segment_at_its_own_time(shop):
    ana, ben, cris, dani = shop
    lapsed = Segment.objects.create(name="lapsed", min_days_since_order=90)
    new = order(ben, 0)
    assert segments.is_member(lapsed, ben, new.date_placed)
