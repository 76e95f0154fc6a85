"""Showing "earn N points" while shopping: product page, basket, checkout preview, order email.

The figures come from the store's earning rule (campaigns included); a
visitor sees what joining gives; the pages cost a constant number of queries
and never break because of loyalty.
"""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.formats import date_format
from oscar.apps.catalogue.categories import create_from_breadcrumbs
from oscar.apps.offer.applicator import Applicator
from oscar.apps.partner.strategy import Default
from oscar.core.loading import get_model
from oscar.test.factories import create_product, create_stockrecord

from oscar_loyalty import earning, ledger, redemption, shopping
from oscar_loyalty.coupons.creation import CouponSpec, save_coupon
from oscar_loyalty.models import BonusCampaign
from tests.helpers import text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def in_english():
    """URLs reversed here are the English ones, whatever language an earlier test left on."""
    with translation.override("en"):
        yield


ProductCategory = get_model("catalogue", "ProductCategory")


def product(title, price, category=None):
    item = create_product(title=title)
    create_stockrecord(item, price=D(price), num_in_stock=100)
    if category:
        ProductCategory.objects.create(product=item, category=create_from_breadcrumbs(category))
    return item


def add(app, user, item, quantity=1):
    page = app.get(item.get_absolute_url(), user=user)
    form = page.forms["add_to_basket_form"]
    form["quantity"] = quantity
    form.submit(user=user)


def double_points(name="Double points this week", **kwargs):
    campaign = BonusCampaign.objects.create(name=name, multiplier=D(2), **kwargs)
    return campaign


def test_product_page_says_what_it_earns_a_customer(django_app, customer):
    lamp = product("Lamp", "89.90")
    box = text(
        django_app.get(lamp.get_absolute_url(), user=customer).html.select_one("#product-earn")
    )
    assert box == "Earn 8 points with this product, worth $8.00 on a later order."


def test_a_campaign_doubles_the_figure_and_is_announced(django_app, customer):
    coffee = product("Coffee", "30.00", "Food > Coffee")
    lamp = product("Lamp", "30.00", "Home")
    campaign = double_points()
    campaign.categories.add(create_from_breadcrumbs("Food"))
    page = django_app.get(coffee.get_absolute_url(), user=customer)
    box = text(page.html.select_one("#product-earn"))
    assert "Double points this week · ×2 points" in box
    assert "Earn 6 points with this product" in box
    other = django_app.get(lamp.get_absolute_url(), user=customer)
    assert "Earn 3 points with this product" in text(other.html.select_one("#product-earn"))
    assert "Double points" not in other.text


def test_a_campaign_not_running_now_changes_nothing(django_app, customer):
    coffee = product("Coffee", "30.00")
    campaign = double_points(starts_at=timezone.now() + timedelta(days=1))
    campaign.products.add(coffee)
    box = text(
        django_app.get(coffee.get_absolute_url(), user=customer).html.select_one("#product-earn")
    )
    assert "Earn 3 points" in box and "Double" not in box


def test_a_visitor_sees_what_joining_gives_and_a_link_to_sign_up(django_app):
    lamp = product("Lamp", "89.90")
    page = django_app.get(lamp.get_absolute_url())
    box = page.html.select_one("#product-earn")
    assert "Members earn 8 points with this product" in text(box)
    link = box.select_one("a.earn-join")
    assert text(link) == "Join free to earn points"
    assert django_app.get(link["href"]).maybe_follow().status_code == 200


@override_settings(OSCAR_LOYALTY_WELCOME_BONUS_POINTS=20)
def test_a_visitor_is_told_of_the_welcome_bonus(django_app):
    lamp = product("Lamp", "89.90")
    box = text(django_app.get(lamp.get_absolute_url()).html.select_one("#product-earn"))
    assert "plus 20 points for joining" in box


def test_a_product_worth_no_points_shows_nothing(django_app, customer):
    cheap = product("Pencil", "2.00")
    assert (
        django_app.get(cheap.get_absolute_url(), user=customer).html.select_one("#product-earn")
        is None
    )
    gift = product("Gift card", "50.00")
    BonusCampaign.objects.create(name="No points", multiplier=D(0)).products.add(gift)
    assert (
        django_app.get(gift.get_absolute_url(), user=customer).html.select_one("#product-earn")
        is None
    )


def test_basket_figure_is_the_order_figure(django_app, customer, place_order):
    coffee = product("Coffee", "30.00", "Food > Coffee")
    lamp = product("Lamp", "19.99")
    double_points().products.add(coffee)
    add(django_app, customer, coffee, 2)
    add(django_app, customer, lamp)
    page = django_app.get("/basket/", user=customer)
    box = text(page.html.select_one("#basket-earn"))
    # (2 x 30.00 x 2 + 19.99) / 10 = 13.999: 13 points, rounded down once, as an order.
    assert "This order earns you 13 points, worth $13.00 on a later order." in box
    assert "Double points this week" in box
    order = place_order(customer, [(coffee, 2), (lamp, 1)])
    assert order.loyalty_awards.get().points == 13


def test_basket_estimate_counts_a_coupon(django_app, customer):
    lamp = product("Lamp", "100.00")
    save_coupon(
        CouponSpec(
            name="20% off",
            code="SAVE20",
            kind="percentage",
            value=D("20"),
            start=timezone.now() - timedelta(days=1),
            end=timezone.now() + timedelta(days=1),
        )
    )
    add(django_app, customer, lamp)
    page = django_app.get("/basket/", user=customer)
    assert "earns you 10 points" in text(page.html.select_one("#basket-earn"))
    form = page.forms["voucher_form"]
    form["code"] = "SAVE20"
    page = form.submit(user=customer).follow(user=customer)
    assert "earns you 8 points" in text(page.html.select_one("#basket-earn"))


def test_basket_estimate_counts_points_used(django_app, customer):
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="Order 1")
    add(django_app, customer, product("Lamp", "100.00"))
    page = django_app.get("/basket/", user=customer)
    form = page.forms["use-points-form"]
    form["points"] = "30"
    page = form.submit(user=customer).follow(user=customer)
    assert "earns you 7 points" in text(page.html.select_one("#basket-earn"))  # on $70 paid


def test_a_visitors_basket_shows_what_members_earn(django_app):
    add(django_app, None, product("Lamp", "100.00"))
    box = django_app.get("/basket/").html.select_one("#basket-earn")
    assert "Members earn 10 points with this order" in text(box)
    assert box.select_one("a.earn-join") is not None


def test_the_store_rule_decides_the_shown_figure(django_app, customer):
    lamp = product("Lamp", "100.00")
    add(django_app, customer, lamp)
    with override_settings(
        OSCAR_LOYALTY_EARNING_RULE="tests.functional.test_earning_shown.TripleRule"
    ):
        page = django_app.get("/basket/", user=customer)
        assert "earns you 30 points" in text(page.html.select_one("#basket-earn"))
        product_page = django_app.get(lamp.get_absolute_url(), user=customer)
        assert "Earn 30 points" in text(product_page.html.select_one("#product-earn"))


class TripleRule(earning.EarningRule):
    """A store's rule: triple points for customers (a tier multiplier would look the same)."""

    def order_points(self, order, lines=None):
        points, values = super().order_points(order, lines)
        return points * 3 if order.user_id else points, values


class BrokenRule(earning.EarningRule):
    def order_points(self, order, lines=None):
        raise RuntimeError("the store's rule is broken")


def test_a_failing_rule_leaves_oscars_pages_working(django_app, customer, caplog):
    lamp = product("Lamp", "100.00")
    with override_settings(
        OSCAR_LOYALTY_EARNING_RULE="tests.functional.test_earning_shown.BrokenRule"
    ):
        page = django_app.get(lamp.get_absolute_url(), user=customer)
        assert page.status_code == 200 and "Lamp" in page.text
        assert page.html.select_one("#product-earn") is None
        add(django_app, customer, lamp)
        basket = django_app.get("/basket/", user=customer)
        assert basket.status_code == 200
        assert basket.html.select_one("#basket_totals") is not None
        assert basket.html.select_one("#basket-earn") is None
    assert "the store's rule is broken" in caplog.text


def queries(fn):
    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured)


def test_the_estimates_cost_a_constant_number_of_queries(rf, customer):
    campaign = double_points()
    campaign.categories.add(create_from_breadcrumbs("Food"))
    items = [product(f"Item {i}", "10.00", f"Food > Kind {i}") for i in range(8)]

    def basket_with(n):
        from tests.helpers import basket_for

        basket = basket_for(customer)
        for item in items[:n]:
            basket.add_product(item)
        return basket

    def cost(n):
        request = rf.get("/")
        request.user = customer
        basket = basket_with(n)
        basket = type(basket).objects.get(pk=basket.pk)
        from oscar.apps.partner.strategy import Default

        basket.strategy = Default()
        Applicator().apply(basket, customer)
        for line in basket.all_lines():  # Oscar prices the lines for its own table first
            line.line_price_incl_tax_incl_discounts  # noqa: B018
        return queries(lambda: shopping.basket_earning(request, basket))

    # campaigns (3, with their products and categories), category paths, the tier
    assert cost(1) == cost(8) <= 5

    def product_cost(item):
        request = rf.get("/")
        request.user = customer
        from oscar.apps.partner.strategy import Default

        request.strategy = Default()
        return queries(lambda: shopping.product_earning(request, item))

    assert product_cost(items[0]) == product_cost(items[7]) <= 6  # and the stock record


def test_whole_pages_cost_the_same_whatever_the_basket_holds(django_app, customer):
    campaign = double_points()
    campaign.categories.add(create_from_breadcrumbs("Food"))
    items = [product(f"Item {i}", "10.00", f"Food > Kind {i}") for i in range(6)]
    add(django_app, customer, items[0])

    def earn_queries():
        with CaptureQueriesContext(connection) as captured:
            django_app.get("/basket/", user=customer)
        return [q["sql"] for q in captured if "oscar_loyalty_bonuscampaign" in q["sql"]]

    small = earn_queries()
    for item in items[1:]:
        add(django_app, customer, item)
    assert len(earn_queries()) == len(small) <= 3


def test_the_order_email_says_what_it_earns_and_when(django_app, customer):
    from oscar.apps.order.utils import OrderCreator  # noqa: F401  (Oscar's own checkout sends it)
    from oscar.core.loading import get_class

    lamp = product("Lamp", "100.00")
    add(django_app, customer, lamp)
    basket = get_model("basket", "Basket").objects.get(owner=customer)
    from oscar.apps.partner.strategy import Default
    from oscar.test.factories import create_order

    basket.strategy = Default()
    order = create_order(basket=basket, user=customer)
    mixin = get_class("checkout.mixins", "OrderPlacementMixin")()
    mixin.request = type("R", (), {"user": customer, "site": None})()
    mail.outbox.clear()
    mixin.send_order_placed_email(order)
    message = mail.outbox[-1]
    day = date_format(order.date_placed + timedelta(days=30))
    expected = f"This order earns you 10 points, yours on {day} once the return window has passed."
    assert expected in " ".join(message.body.split())
    html = next(body for body, kind in message.alternatives if kind == "text/html")
    assert expected in " ".join(html.split())


def test_a_tier_multiplier_shows_in_the_estimates_as_in_the_award(
    django_app, customer, staff, place_order
):
    from oscar_loyalty import tiers
    from oscar_loyalty.models import Tier

    gold = Tier.objects.create(
        name="Gold", level=1, threshold=D("100"), multiplier=D("1.5"), downgrade="never"
    )
    tiers.move(customer, gold, "VIP", staff)
    lamp = product("Lamp", "200.00")
    page = django_app.get(lamp.get_absolute_url(), user=customer)
    assert "Earn 30 points with this product" in text(page.html.select_one("#product-earn"))
    add(django_app, customer, lamp)
    basket = django_app.get("/basket/", user=customer)
    assert "earns you 30 points" in text(basket.html.select_one("#basket-earn"))
    assert place_order(customer, [(lamp, 1)]).loyalty_awards.get().points == 30


@override_settings(OSCAR_LOYALTY_HOOKS=False)
def test_with_the_hooks_off_oscars_pages_show_nothing_of_ours(django_app, customer):
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="Order 1")
    lamp = product("Lamp", "100.00")
    assert (
        django_app.get(lamp.get_absolute_url(), user=customer).html.select_one("#product-earn")
        is None
    )
    add(django_app, customer, lamp)
    basket = get_model("basket", "Basket").objects.get(owner=customer)
    basket.strategy = Default()
    used = redemption.redeem_points(customer, basket, 10)
    totals = django_app.get("/basket/", user=customer).html.select_one("#basket_totals")
    assert totals.select_one("#basket-earn") is None
    assert used.voucher.code in text(totals)  # Oscar's own naming
    assert "Points (10)" not in text(totals)
