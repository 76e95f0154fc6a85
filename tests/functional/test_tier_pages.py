"""Tiers where customers see them: the Rewards page (English and Spanish) and a tier's
offer in a real basket."""

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
import time_machine
from django.core.cache import cache
from oscar.core.loading import get_model
from oscar.test.factories import create_product, create_stockrecord

from oscar_loyalty import keys, ledger, tiers
from oscar_loyalty.models import Reward, Tier, TierStatus

pytestmark = pytest.mark.django_db
Range = get_model("offer", "Range")
Benefit = get_model("offer", "Benefit")
ConditionalOffer = get_model("offer", "ConditionalOffer")
NOW = datetime(2026, 5, 4, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ladder(db):
    silver = Tier.objects.create(
        name="Silver", name_translations={"es": "Plata"}, level=1, threshold=D("100")
    )
    gold = Tier.objects.create(
        name="Gold",
        name_translations={"es": "Oro"},
        level=2,
        threshold=D("300"),
        measure=Tier.Measure.SPEND,
        period=Tier.Period.YEAR,
        multiplier=D("1.5"),
    )
    secret = Tier.objects.create(name="Black", level=3, threshold=D("5000"), hidden=True)
    return silver, gold, secret


def tier_section(page):
    return " ".join(page.html.select_one("#rewards-tier").text.split())


def test_no_tiers_no_section(django_app, customer):
    assert (
        django_app.get("/accounts/rewards/", user=customer).html.select_one("#rewards-tier") is None
    )


def test_the_way_to_the_next_tier(django_app, customer, ladder, place_order):
    silver, _gold, _secret = ladder
    account = ledger.get_account(customer)
    ledger.earn(account, 100, key=keys.order_earn("1"), reason="Order")
    place_order(customer, [("260.00", 1)])  # 260 spent this year: 40 to go
    tiers.recompute_all()
    text = tier_section(django_app.get("/accounts/rewards/", user=customer))
    assert "Your tier Silver" in text
    assert "Spend $40.00 more before Jan. 1, 2027 to reach Gold." in text
    assert "Black" not in text  # hidden until reached
    text = tier_section(django_app.get("/es/accounts/rewards/", user=customer))
    assert "Tu nivel Plata" in text
    assert "Gasta 40,00" in text and "antes del 1 de enero de 2027 para llegar a Oro." in text


def test_perks_and_the_secret_tier_announced(django_app, customer, staff, ladder):
    _silver, gold, secret = ladder
    reward = Reward.objects.create(
        name="Lounge", kind=Reward.Kind.DISCOUNT, cost=10, value=D("5"), min_tier=gold
    )
    hidden = Reward.objects.create(
        name="Backstage", kind=Reward.Kind.DISCOUNT, cost=10, value=D("5"), min_tier=secret
    )
    ledger.earn(ledger.get_account(customer), 50, key=keys.order_earn("1"), reason="Order")
    page = django_app.get("/accounts/rewards/", user=customer)
    catalogue = page.html.select_one("#rewards-catalogue").text
    assert "Lounge" in catalogue and "For Gold and above" in catalogue
    assert "Backstage" not in catalogue  # a hidden tier's reward stays hidden too
    assert f'action="/accounts/rewards/{reward.pk}/claim/"' in page.text
    tiers.move(customer, gold, "Welcome to Gold", staff)
    text = tier_section(django_app.get("/accounts/rewards/", user=customer))
    assert "×1.5 points on every order" in text
    assert "Reward for your tier: Lounge" in text
    assert "Welcome to Gold" in text  # the staff's reason
    tiers.move(customer, secret, "You are one of a kind", staff)
    page = django_app.get("/es/accounts/rewards/", user=customer)
    assert "Has desbloqueado un nivel secreto: Black" in page.html.select_one("#tier-secret").text
    assert "Backstage" in page.html.select_one("#rewards-catalogue").text
    assert hidden.pk


def test_a_tier_offer_applies_in_a_real_basket(
    django_app, customer, staff, ladder, django_user_model
):
    _silver, gold, _secret = ladder
    everything = Range.objects.create(name="Everything", includes_all_products=True)
    benefit = Benefit.objects.create(range=everything, type=Benefit.PERCENTAGE, value=D("10"))
    ConditionalOffer.objects.create(
        name="Gold: 10% off everything",
        offer_type=ConditionalOffer.SITE,
        condition=tiers.offer_condition(gold),
        benefit=benefit,
    )
    product = create_product(title="Lamp")
    create_stockrecord(product, price=D("50.00"), num_in_stock=10)
    other = django_user_model.objects.create_user("bob", "bob@example.com", "x")

    def basket_total(user):
        page = django_app.get(product.get_absolute_url(), user=user)
        page.forms["add_to_basket_form"].submit(user=user)
        return django_app.get("/basket/", user=user)

    tiers.move(customer, gold, "VIP", staff)
    page = basket_total(customer)
    assert "Gold: 10% off everything" in page.text
    assert "$45.00" in page.html.select_one("#basket_totals").text
    page = basket_total(other)
    assert "Gold: 10% off everything" not in page.text
    assert TierStatus.objects.filter(account__user=other).count() == 0
    # the Rewards page lists the offer among Gold's perks
    assert "Gold: 10% off everything" in tier_section(
        django_app.get("/accounts/rewards/", user=customer)
    )
