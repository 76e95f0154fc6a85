"""Win-back: customers at risk get one personal coupon by email, with consent."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.core import mail
from django.test import override_settings
from oscar.core.loading import get_model

from oscar_loyalty import winback
from oscar_loyalty.consent import set_marketing_consent
from oscar_loyalty.models import (
    MarketingConsent,
    OwnerCondition,
    Segment,
    WinBackCampaign,
    WinBackCoupon,
)

pytestmark = pytest.mark.django_db
User = get_model("auth", "User")
Order = get_model("order", "Order")
NOW = datetime(2026, 10, 1, 10, tzinfo=UTC)


def person(name, consent=True):
    user = User.objects.create_user(name, f"{name}@example.com", "x")
    set_marketing_consent(user, consent, MarketingConsent.Source.ACCOUNT)
    return user


def order(user, days_ago, total="50.00", status="Pending"):
    return Order.objects.create(
        number=f"{user.pk}-{Order.objects.count()}",
        user=user,
        currency="USD",
        total_incl_tax=D(total),
        total_excl_tax=D(total),
        status=status,
        date_placed=NOW - timedelta(days=days_ago),
    )


@pytest.fixture
def campaign():
    return WinBackCampaign.objects.create(
        name="Come back", enabled=True, days=60, kind="percentage", value=D("15"), valid_days=20
    )


@pytest.fixture
def shop():
    """ana: one order 90 days ago (at risk); ben: at risk, no consent; cris: two orders;
    dani: one recent order."""
    ana, ben, cris, dani = person("ana"), person("ben", False), person("cris"), person("dani")
    order(ana, 90)
    order(ben, 90)
    order(cris, 90)
    order(cris, 80)
    order(dani, 10)
    return ana, ben, cris, dani


def test_customers_at_risk_with_consent_get_one_personal_coupon_once(shop, campaign):
    ana = shop[0]
    assert winback.send_campaign(campaign, NOW) == 1
    assert winback.send_campaign(campaign, NOW + timedelta(days=1)) == 0  # the job ran again
    coupon = WinBackCoupon.objects.get()
    assert coupon.user == ana
    voucher = coupon.voucher
    assert voucher.usage == voucher.SINGLE_USE
    assert voucher.end_datetime == NOW + timedelta(days=20)
    assert OwnerCondition.binds(voucher) and OwnerCondition.owns(voucher, ana.pk)
    assert not OwnerCondition.owns(voucher, shop[2].pk)  # passed on, it gives nothing
    [email] = mail.outbox
    assert email.to == ["ana@example.com"]
    assert voucher.code in email.body and "15% off" in email.body
    assert "List-Unsubscribe" in email.extra_headers  # a marketing email


def test_a_campaign_switched_off_or_the_email_switched_off_sends_nothing(shop, campaign):
    campaign.enabled = False
    assert winback.send_campaign(campaign, NOW) == 0
    campaign.enabled = True
    with override_settings(OSCAR_LOYALTY_EMAILS={"winback": {"send": False}}):
        assert winback.send_all(NOW) == 0
    assert not WinBackCoupon.objects.exists()


def test_a_segment_narrows_who_gets_it(shop, campaign):
    ana, ben, cris, dani = shop
    eve = person("eve")
    order(eve, 100, total="500.00")
    campaign.segment = Segment.objects.create(name="big", min_spend=D("100"))
    campaign.save()
    winback.send_campaign(campaign, NOW)
    assert [c.user for c in WinBackCoupon.objects.all()] == [eve]


def test_a_failed_email_takes_its_coupon_back_so_the_next_run_sends_it(shop, campaign, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr(winback.notifications, "send", broken)
    with pytest.raises(OSError):
        winback.send_campaign(campaign, NOW)
    assert not WinBackCoupon.objects.exists()
    monkeypatch.undo()
    assert winback.send_campaign(campaign, NOW) == 1


def test_results_count_who_came_back_and_what_they_spent(shop, campaign):
    ana, ben, cris, dani = shop
    fred = person("fred")
    order(fred, 120)
    winback.send_campaign(campaign, NOW)
    assert WinBackCoupon.objects.count() == 2
    later = NOW + timedelta(days=3)
    o = Order.objects.create(
        number="back-1",
        user=ana,
        currency="USD",
        total_incl_tax=D("80.00"),
        total_excl_tax=D("80.00"),
        date_placed=later,
    )
    Order.objects.create(
        number="back-2",
        user=ana,
        currency="USD",
        total_incl_tax=D("20.00"),
        total_excl_tax=D("20.00"),
        date_placed=later,
    )
    Order.objects.create(
        number="back-3",
        user=fred,
        currency="USD",
        total_incl_tax=D("999.00"),
        total_excl_tax=D("999.00"),
        date_placed=later,
        status="Cancelled",
    )
    voucher = WinBackCoupon.objects.get(user=ana).voucher
    voucher.num_orders = 1
    voucher.save()
    figures = winback.results([campaign])[campaign.pk]
    assert figures == {"sent": 2, "returned": 1, "revenue": D("100.00"), "used": 1}
    assert o.pk
