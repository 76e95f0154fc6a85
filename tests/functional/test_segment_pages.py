"""Segments with member counts, win-back figures, and campaigns for a segment."""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone
from oscar.core.loading import get_model
from oscar.test.factories import create_product, create_stockrecord

from oscar_loyalty import winback
from oscar_loyalty.consent import set_marketing_consent
from oscar_loyalty.models import (
    BonusCampaign,
    MarketingConsent,
    PendingAward,
    Segment,
    SegmentCondition,
    WinBackCampaign,
)

pytestmark = pytest.mark.django_db
Order = get_model("order", "Order")
BASE = "/dashboard/loyalty/"


def old_order(user, days_ago=90, total="40.00"):
    return Order.objects.create(
        number=f"{user.pk}-{days_ago}",
        user=user,
        currency="USD",
        total_incl_tax=D(total),
        total_excl_tax=D(total),
        date_placed=timezone.now() - timedelta(days=days_ago),
    )


def test_only_staff_see_the_segment_and_win_back_pages(django_app, customer, staff):
    for path in ("segments/", "segments/create/", "win-back/", "win-back/create/"):
        django_app.reset()
        assert django_app.get(BASE + path).status_code == 302
        assert django_app.get(BASE + path, user=customer, expect_errors=True).status_code == 403
        assert django_app.get(BASE + path, user=staff).status_code == 200


def test_a_segment_is_created_shown_with_its_member_count_and_gets_its_condition(
    django_app, staff, customer
):
    old_order(customer)
    form = django_app.get(BASE + "segments/create/", user=staff).forms["segment-form"]
    form["name"] = "Bought once"
    form["min_orders"] = "1"
    form["max_orders"] = "1"
    page = form.submit().follow()
    assert "Segment Bought once saved: 1 customers." in page.html.select_one("#messages").text
    row = page.html.select_one("#segment-list tbody tr")
    assert row.select_one(".member-count").text == "1"
    segment = Segment.objects.get()
    assert SegmentCondition.objects.get(pk=segment.condition_id).segment == segment


@pytest.mark.parametrize(
    "field,value",
    [
        ("min_orders", "-1"),
        ("max_orders", "abc"),
        ("min_spend", "-5"),
        ("max_days_since_order", "10" * 20),
    ],
)
def test_bad_rules_are_refused_and_nothing_saved(django_app, staff, field, value):
    form = django_app.get(BASE + "segments/create/", user=staff).forms["segment-form"]
    form["name"] = "Bad"
    form[field] = value
    assert form.submit().status_code == 200
    assert not Segment.objects.exists()


def test_min_above_max_is_refused(django_app, staff):
    form = django_app.get(BASE + "segments/create/", user=staff).forms["segment-form"]
    form["name"] = "Bad"
    form["min_orders"], form["max_orders"] = "5", "2"
    page = form.submit()
    assert page.status_code == 200 and not Segment.objects.exists()


def test_win_back_page_shows_who_came_back_and_what_they_spent(django_app, staff, customer):
    set_marketing_consent(customer, True, MarketingConsent.Source.ACCOUNT)
    old_order(customer)
    form = django_app.get(BASE + "win-back/create/", user=staff).forms["winback-form"]
    form["name"] = "We miss you"
    form["enabled"] = True
    form["days"] = "60"
    form["kind"] = "percentage"
    form["value"] = "15"
    form["valid_days"] = "30"
    form.submit().follow()
    campaign = WinBackCampaign.objects.get()
    assert winback.send_all() == 1
    Order.objects.create(
        number="back",
        user=customer,
        currency="USD",
        total_incl_tax=D("64.50"),
        total_excl_tax=D("64.50"),
        date_placed=timezone.now() + timedelta(minutes=1),
    )
    row = django_app.get(BASE + "win-back/", user=staff).html.select_one("#winback-list tbody tr")
    assert (row.select_one(".sent").text, row.select_one(".returned").text) == ("1", "1")
    assert "$64.50" in row.select_one(".revenue").text
    assert campaign.enabled


@pytest.mark.parametrize(
    "field,value",
    [("days", "0"), ("days", "99999"), ("value", "0"), ("value", "150"), ("valid_days", "0")],
)
def test_bad_win_back_settings_are_refused(django_app, staff, field, value):
    form = django_app.get(BASE + "win-back/create/", user=staff).forms["winback-form"]
    form["name"], form["kind"], form["value"], form["days"] = "X", "percentage", "10", "60"
    form[field] = value
    assert form.submit().status_code == 200
    assert not WinBackCampaign.objects.exists()


def test_a_double_points_campaign_for_a_segment_pays_and_is_announced_to_its_members_only(
    django_app, customer, django_user_model, place_order
):
    old_order(customer, days_ago=200)
    regulars = Segment.objects.create(name="Came before", min_orders=1)
    campaign = BonusCampaign.objects.create(
        name="Welcome back", multiplier=D("2"), segment=regulars
    )
    shoes = create_product(title="Shoes")
    create_stockrecord(shoes, price=D("100.00"), num_in_stock=10)
    campaign.products.add(shoes)
    stranger = django_user_model.objects.create_user("sam", "sam@example.com", "x")
    mine = place_order(customer, [(shoes, 1)])
    theirs = place_order(stranger, [(shoes, 1)])
    assert PendingAward.objects.get(order=mine).points == 20
    assert PendingAward.objects.get(order=theirs).points == 10  # their first order
    page = django_app.get("/accounts/rewards/", user=customer)
    assert "Welcome back: ×2 points" in page.html.select_one("#rewards-campaigns").text
    django_app.reset()
    newcomer = django_user_model.objects.create_user("new", "new@example.com", "x")
    page = django_app.get("/accounts/rewards/", user=newcomer)
    assert page.html.select_one("#rewards-campaigns") is None
