"""The customer's app: their own points, rewards, referral link, consent and card."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from oscar_loyalty import ledger, redemption
from oscar_loyalty.models import MarketingConsent, Redemption, Reward

from .conftest import entries

pytestmark = pytest.mark.django_db
API = "/api/loyalty"


def test_anonymous_requests_are_refused_with_401():
    response = APIClient().get(f"{API}/balance/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_balance_of_a_customer_who_never_earned_is_zero_and_creates_nothing(api, customer):
    response = api.get(f"{API}/balance/")
    assert response.status_code == 200
    assert response.json() == {
        "balance": 0,
        "value": "0.00",
        "currency": "USD",
        "tier": None,
        "next_tier": None,
    }
    assert not hasattr(customer, "loyalty_account") or customer.loyalty_account is None


def test_balance_and_its_value(api, rich):
    assert api.get(f"{API}/balance/").json() == {
        "balance": 500,
        "value": "500.00",
        "currency": "USD",
        "tier": None,
        "next_tier": None,
    }


def test_balance_with_the_tier_and_the_next(api, rich, customer, staff):
    from oscar_loyalty import tiers
    from oscar_loyalty.models import Tier

    silver = Tier.objects.create(
        name="Silver", name_translations={"es": "Plata"}, level=1, threshold=Decimal("100")
    )
    Tier.objects.create(
        name="Gold", level=2, threshold=Decimal("300"), measure="spend", period="year"
    )
    Tier.objects.create(name="Black", level=3, threshold=Decimal("1"), hidden=True)
    tiers.move(customer, silver, "Welcome", staff)
    data = api.get(f"{API}/balance/", HTTP_ACCEPT_LANGUAGE="es").json()
    assert data["tier"] == {"name": "Plata", "level": 1, "multiplier": "1.00", "hidden": False}
    assert data["next_tier"]["name"] == "Gold"
    assert (data["next_tier"]["measure"], data["next_tier"]["missing"]) == ("spend", "300.00")
    assert data["next_tier"]["before"].startswith("20")


def test_pending_points_with_their_dates(api, customer, place_order):
    order = place_order(customer, lines=[("120.00", 1)])
    (pending,) = api.get(f"{API}/pending/").json()
    assert pending["kind"] == "order"
    assert pending["order_number"] == str(order.number)
    assert pending["points"] == 12
    assert pending["matures_at"].startswith(
        (order.date_placed + timedelta(days=30)).date().isoformat()
    )


def test_history_pages_by_cursor_newest_first(api, customer):
    account = ledger.get_account(customer)
    for n in range(25):
        ledger.earn(account, n + 1, key=f"earn:test:{n}", reason=f"Gift {n}")
    first = api.get(f"{API}/history/").json()
    assert [e["points"] for e in first["results"]] == list(range(25, 5, -1))
    assert first["results"][0]["reason"] == "Gift 24"
    second = api.get(first["next"]).json()
    assert [e["points"] for e in second["results"]] == [5, 4, 3, 2, 1]
    assert second["next"] is None
    assert api.get(f"{API}/history/", {"cursor": "garbage"}).status_code == 404


def test_history_shows_only_the_customers_own_entries(api, rich, other):
    ledger.earn(ledger.get_account(other), 7, key="earn:other", reason="Theirs")
    assert [e["points"] for e in api.get(f"{API}/history/").json()["results"]] == [500]


def test_expiring_soon_by_date(api, rich):
    with time_machine.travel(timezone.now() + timedelta(days=340), tick=False):
        (soon,) = api.get(f"{API}/expiring/").json()
        assert soon["points"] == 500
        assert api.get(f"{API}/expiring/", {"days": 5}).json() == []


@pytest.mark.parametrize("days", ["0", "367", "soon", " 5", "5.0", ""])
def test_expiring_refuses_a_bad_number_of_days(api, days):
    response = api.get(f"{API}/expiring/", {"days": days})
    assert response.status_code == 400
    assert "days" in response.json()["fields"]


def make_reward(**kwargs):
    fields = {"name": "Free shipping", "kind": Reward.Kind.FREE_SHIPPING, "cost": 200}
    return Reward.objects.create(**{**fields, **kwargs})


def test_rewards_catalogue_lists_what_can_be_claimed_now(api):
    shipping = make_reward()
    make_reward(name="Gone", stock=0)
    make_reward(name="Later", starts_at=timezone.now() + timedelta(days=1))
    assert [r["id"] for r in api.get(f"{API}/rewards/").json()] == [shipping.pk]


def test_claiming_a_reward_returns_its_code(api, rich):
    reward = make_reward()
    response = api.post(f"{API}/rewards/{reward.pk}/claim/")
    assert response.status_code == 201
    claim = response.json()
    assert claim["code"].startswith("RWD-")
    assert claim["reward"] == {"id": reward.pk, "name": "Free shipping"}
    assert ledger.get_account(rich).balance == 300
    assert api.get(f"{API}/claims/{claim['id']}/").json()["code"] == claim["code"]
    assert [c["id"] for c in api.get(f"{API}/claims/").json()["results"]] == [claim["id"]]


def test_claiming_without_enough_points_is_a_conflict_and_writes_nothing(api, customer):
    reward = make_reward()
    before = entries()
    response = api.post(f"{API}/rewards/{reward.pk}/claim/")
    assert response.status_code == 409
    assert "not enough" in response.json()["detail"]
    assert entries() == before
    assert not Redemption.objects.exists()


def test_claiming_an_unknown_reward_is_not_found(api, rich):
    assert api.post(f"{API}/rewards/999999/claim/").status_code == 404


def test_another_customers_claim_is_not_found(api, rich, other):
    ledger.earn(ledger.get_account(other), 500, key="seed:other", reason="Seed")
    theirs = redemption.claim_reward(other, make_reward().pk)
    assert api.get(f"{API}/claims/{theirs.pk}/").status_code == 404
    assert api.get(f"{API}/claims/").json()["results"] == []


def test_referral_link(api, customer):
    body = api.get(f"{API}/referral/").json()
    assert body["url"].endswith(f"/r/{body['code']}/")
    assert body["share"]["whatsapp"].startswith("https://wa.me/")
    assert (body["visits"], body["signups"], body["rewarded"]) == (0, 0, 0)
    assert api.get(f"{API}/referral/").json()["code"] == body["code"]


def test_consent_is_no_until_given_then_withdrawn(api, customer):
    assert api.get(f"{API}/consent/").json() == {"marketing": False, "changed_at": None}
    given = api.put(f"{API}/consent/", {"marketing": True}, format="json").json()
    assert given["marketing"] is True and given["changed_at"]
    record = MarketingConsent.objects.get(user=customer)
    assert (record.marketing, record.source) == (True, MarketingConsent.Source.API)
    api.put(f"{API}/consent/", {"marketing": False}, format="json")
    assert MarketingConsent.objects.get(user=customer).marketing is False


@pytest.mark.parametrize(
    "body",
    [{}, {"marketing": "perhaps"}, {"marketing": None}, {"marketing": 0}, {"marketing": "true"}],
)
def test_a_bad_consent_answer_is_refused_and_changes_nothing(api, customer, body):
    assert api.put(f"{API}/consent/", body, format="json").status_code == 400
    assert not MarketingConsent.objects.exists()


def test_session_authentication_works_and_writes_need_the_csrf_token(customer):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(customer)
    assert browser.get(f"{API}/balance/").status_code == 200
    response = browser.put(f"{API}/consent/", {"marketing": True}, format="json")
    assert response.status_code == 403
    assert not MarketingConsent.objects.exists()


def test_customers_are_throttled(api, settings):
    settings.OSCAR_LOYALTY_API_THROTTLE_RATES = {
        "customer": "2/minute",
        "staff": "2/minute",
        "token": "2/minute",
    }
    assert [api.get(f"{API}/balance/").status_code for _ in range(3)] == [200, 200, 429]


def test_a_token_from_email_and_password_and_revoked(customer):
    client = APIClient()
    response = client.post(
        f"{API}/token/", {"email": "ana@example.com", "password": "x"}, format="json"
    )
    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get(f"{API}/balance/").status_code == 200
    assert client.delete(f"{API}/token/").status_code == 204
    assert client.get(f"{API}/balance/").status_code == 401


def test_a_wrong_password_gets_no_token(customer):
    response = APIClient().post(
        f"{API}/token/", {"email": "ana@example.com", "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert "token" not in response.json()


def test_card_code_names_the_customer_until_it_expires(api, till, customer):
    card = api.get(f"{API}/card/").json()
    found = till.get(f"{API}/staff/customers/", {"card": card["code"]}).json()
    assert [c["id"] for c in found] == [customer.pk]
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        assert till.get(f"{API}/staff/customers/", {"card": card["code"]}).json() == []
    forged = card["code"].replace(f"{customer.pk}.", f"{customer.pk + 1}.", 1)
    assert till.get(f"{API}/staff/customers/", {"card": forged}).json() == []


def test_points_value_follows_the_setting(api, rich, settings):
    settings.OSCAR_LOYALTY_POINT_VALUE = Decimal("0.05")
    assert api.get(f"{API}/balance/").json()["value"] == "25.00"
