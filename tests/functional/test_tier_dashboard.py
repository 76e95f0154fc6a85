"""Tiers in Oscar's dashboard: staff only; create, edit, delete; move a customer with a reason."""

from decimal import Decimal as D

import pytest

from oscar_loyalty.models import Reward, Tier, TierChange, TierCondition, TierStatus

pytestmark = pytest.mark.django_db
BASE = "/dashboard/loyalty/"


@pytest.fixture
def gold(db):
    return Tier.objects.create(name="Gold", level=2, threshold=D("500"))


def test_only_staff_see_or_change_tiers(django_app, customer, staff, gold):
    pages = ["tiers/", "tiers/create/", f"tiers/{gold.pk}/", f"tiers/{gold.pk}/delete/"]
    for page in pages:
        django_app.reset()
        assert django_app.get(BASE + page).status_code == 302, page
        assert django_app.get(BASE + page, user=customer, expect_errors=True).status_code == 403
        assert django_app.get(BASE + page, user=staff).status_code == 200, page
    django_app.reset()
    for page in [f"tiers/{gold.pk}/delete/", f"customers/{customer.pk}/tier/", "tiers/create/"]:
        response = django_app.post(BASE + page, user=customer, expect_errors=True)
        assert response.status_code == 403, page
    assert Tier.objects.count() == 1
    assert not TierChange.objects.exists()


def test_tiers_are_in_the_dashboard_menu(django_app, staff):
    menu = django_app.get("/dashboard/", user=staff).html.select_one("#bottom_nav_bar")
    assert BASE + "tiers/" in {a.get("href") for a in menu.select("a")}


def test_create_a_tier_with_its_offer_condition(django_app, staff):
    form = django_app.get(BASE + "tiers/create/", user=staff).forms["tier-form"]
    form["name"] = "Gold"
    form["name_es"] = "Oro"
    form["level"] = "2"
    form["threshold"] = "500.00"
    form["measure"] = "spend"
    form["period"] = "year"
    form["downgrade"] = "period_end"
    form["multiplier"] = "1.5"
    page = form.submit().follow()
    assert "Gold" in page.text
    gold = Tier.objects.get()
    assert (gold.name_translations, gold.multiplier) == ({"es": "Oro"}, D("1.5"))
    condition = TierCondition.objects.get(proxy_class=TierCondition.path())
    assert condition.value == gold.pk
    assert str(condition.proxy().name) == "Customer in Gold or above"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold", "-1"),
        ("threshold", "1e20"),
        ("multiplier", "0.5"),
        ("multiplier", "abc"),
        ("level", "2"),  # Gold's level
        ("name_es", "x" * 65),
        ("grace_days", "-3"),
        ("period", "forever"),
    ],
)
def test_bad_tiers_are_refused(django_app, staff, gold, field, value):
    form = django_app.get(BASE + "tiers/create/", user=staff).forms["tier-form"]
    values = {"name": "Silver", "level": "1", "threshold": "100", "multiplier": "1"}
    for name, v in {**values, field: value}.items():
        if name == "period":  # a choice the form does not offer, as a forged post sends it
            form[name].force_value(v)
        else:
            form[name] = v
    page = form.submit(expect_errors=True)
    assert page.status_code == 200
    assert Tier.objects.count() == 1


def test_lifetime_with_period_end_is_refused(django_app, staff):
    form = django_app.get(BASE + "tiers/create/", user=staff).forms["tier-form"]
    form["name"], form["level"], form["threshold"] = "Forever", "1", "10"
    form["period"], form["downgrade"] = "lifetime", "period_end"
    page = form.submit()
    assert "no period end" in page.text
    assert not Tier.objects.exists()


def test_delete_a_tier(django_app, staff, gold):
    page = django_app.get(BASE + f"tiers/{gold.pk}/delete/", user=staff)
    page.forms["tier-delete"].submit().follow()
    assert not Tier.objects.exists()


def test_a_tier_rewards_are_for_cannot_be_deleted(django_app, staff, gold):
    Reward.objects.create(name="Lounge", kind="discount", cost=5, value=D("1"), min_tier=gold)
    page = django_app.get(BASE + f"tiers/{gold.pk}/delete/", user=staff)
    page = page.forms["tier-delete"].submit().follow()
    assert "change them first" in page.text
    assert Tier.objects.exists()


def test_staff_move_a_customer_with_a_reason(django_app, staff, customer, gold):
    page = django_app.get(BASE + f"customers/{customer.pk}/", user=staff)
    form = page.forms["tier-form"]
    form["tier"] = str(gold.pk)
    form["reason"] = "Sorry about the late delivery"
    page = form.submit().follow()
    assert page.html.select_one("#customer-tier-name").text.strip() == "Gold"
    assert "Sorry about the late delivery" in page.html.select_one("#customer-tier-history").text
    change = TierChange.objects.get()
    assert (change.staff_user, change.to_tier) == (staff, gold)
    # and down again, to no tier
    form = page.forms["tier-form"]
    form["tier"] = ""
    form["reason"] = "Moved by mistake"
    form.submit().follow()
    assert TierStatus.objects.get().tier is None


def test_a_move_without_a_reason_or_to_a_forged_tier_is_refused(django_app, staff, customer, gold):
    form = django_app.get(BASE + f"customers/{customer.pk}/", user=staff).forms["tier-form"]
    form["tier"] = str(gold.pk)
    form["reason"] = ""
    assert form.submit(expect_errors=True).status_code == 400
    token = django_app.get(BASE + f"customers/{customer.pk}/", user=staff)
    response = django_app.post(
        BASE + f"customers/{customer.pk}/tier/",
        {
            "tier": "99999",
            "reason": "x",
            "csrfmiddlewaretoken": token.forms["tier-form"]["csrfmiddlewaretoken"].value,
        },
        user=staff,
        expect_errors=True,
    )
    assert response.status_code == 400
    assert not TierChange.objects.exists()
