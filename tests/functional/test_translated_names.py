"""Reward names the merchant translates in the dashboard, read in the customer's language."""

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from oscar_loyalty import ledger, reasons, redemption
from oscar_loyalty.models import Reward
from tests.helpers import text

pytestmark = pytest.mark.django_db
CREATE = "/dashboard/loyalty/rewards/create/"


@pytest.fixture
def rich(customer):
    ledger.earn(ledger.get_account(customer), 500, key="seed", reason=reasons.order("1"))
    return customer


def create(app, staff, name, spanish):
    form = app.get(CREATE, user=staff).forms["reward-form"]
    form["name"] = name
    form["name_es"] = spanish
    form["kind"] = "free_shipping"
    form["cost"] = "30"
    return form.submit(user=staff)


def test_the_reward_form_has_a_name_per_other_language_right_after_the_name(django_app, staff):
    form = django_app.get(CREATE, user=staff).forms["reward-form"]
    names = [field for field in form.fields if field and field.startswith("name")]
    assert names[:2] == ["name", "name_es"]
    assert "name_en" not in form.fields  # the shop's own language is the name itself
    page = django_app.get("/es" + CREATE, user=staff)
    label = page.html.select_one("label[for=id_name_es]")
    assert "Nombre en Español" in text(label) or "Nombre en español" in text(label)


def test_staff_translate_a_name_and_customers_read_it_in_their_language(django_app, staff, rich):
    create(django_app, staff, "Free shipping", "  Envío gratis ")
    reward = Reward.objects.get()
    assert reward.name_translations == {"es": "Envío gratis"}
    spanish = django_app.get("/es/accounts/rewards/", user=rich)
    assert "Envío gratis" in text(spanish.html.select_one("#rewards-catalogue"))
    english = django_app.get("/accounts/rewards/", user=rich)
    assert "Free shipping" in text(english.html.select_one("#rewards-catalogue"))
    assert "Envío gratis" not in english.text


def test_a_claim_made_in_english_reads_in_spanish_in_the_history(django_app, staff, rich):
    create(django_app, staff, "Free shipping", "Envío gratis")
    redemption.claim_reward(rich, Reward.objects.get().pk)
    history = text(
        django_app.get("/es/accounts/rewards/", user=rich).html.select_one("#rewards-history")
    )
    assert "Recompensa: Envío gratis" in history
    assert "Reward" not in history


def test_emptying_a_translation_falls_back_to_the_name(django_app, staff):
    create(django_app, staff, "Free shipping", "Envío gratis")
    reward = Reward.objects.get()
    Reward.objects.filter(pk=reward.pk).update(
        name_translations={"es": "Envío gratis", "fr": "Livraison gratuite"}
    )
    form = django_app.get(f"/dashboard/loyalty/rewards/{reward.pk}/", user=staff).forms[
        "reward-form"
    ]
    assert form["name_es"].value == "Envío gratis"
    form["name_es"] = ""
    form.submit(user=staff)
    reward.refresh_from_db()
    # French is not one of the shop's languages now: what was stored for it stays.
    assert reward.name_translations == {"fr": "Livraison gratuite"}


def test_a_name_too_long_is_refused_and_nothing_changes(django_app, staff):
    page = create(django_app, staff, "Free shipping", "x" * 129)
    assert "name_es" in page.context["form"].errors
    assert not Reward.objects.exists()


def test_the_api_names_rewards_in_the_requests_language(rich):
    Reward.objects.create(
        name="Free shipping",
        name_translations={"es": "Envío gratis"},
        kind=Reward.Kind.FREE_SHIPPING,
        cost=30,
    )
    client = APIClient()
    client.force_authenticate(rich)
    spanish = client.get("/api/loyalty/rewards/", HTTP_ACCEPT_LANGUAGE="es").json()
    assert [r["name"] for r in spanish] == ["Envío gratis"]
    english = client.get("/api/loyalty/rewards/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert [r["name"] for r in english] == ["Free shipping"]
    client.post(f"/api/loyalty/rewards/{spanish[0]['id']}/claim/", HTTP_ACCEPT_LANGUAGE="en")
    history = client.get("/api/loyalty/history/", HTTP_ACCEPT_LANGUAGE="es").json()
    assert history["results"][0]["reason"] == "Recompensa: Envío gratis"
    claims = client.get("/api/loyalty/claims/", HTTP_ACCEPT_LANGUAGE="es").json()
    assert claims["results"][0]["reward"]["name"] == "Envío gratis"


def test_an_app_asking_for_spanish_leaves_the_language_as_it_found_it(rich):
    client = APIClient()
    client.force_authenticate(rich)
    with translation.override("en"):
        history = client.get("/api/loyalty/history/", HTTP_ACCEPT_LANGUAGE="es").json()
        assert translation.get_language() == "en"
    order = reasons.order("1")
    with translation.override("es"):
        spanish = reasons.render(order.code, order.params)
    assert history["results"][0]["reason"] == spanish != str(order)
