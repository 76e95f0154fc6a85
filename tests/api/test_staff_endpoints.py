"""The till and customer service: find a customer, award, redeem, adjust, once per key."""

import pytest

from oscar_loyalty import ledger
from oscar_loyalty.models import LedgerEntry

from .conftest import entries

pytestmark = pytest.mark.django_db
API = "/api/loyalty"
KEY = "till-7-receipt-1042"


def post(client, customer, what, body, key=KEY):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"{API}/staff/customers/{customer.pk}/{what}/", body, format="json", headers=headers
    )


@pytest.mark.parametrize(
    "what,body",
    [
        ("award", {"amount": "100.00"}),
        ("redeem", {"points": 50}),
        ("adjust", {"points": 50, "reason": "Gift"}),
    ],
)
def test_a_customer_cannot_post_to_another_customers_account(api, rich, other, what, body):
    before = entries()
    assert post(api, other, what, body).status_code == 403
    assert post(api, rich, what, body).status_code == 403
    assert entries() == before


def test_a_customer_cannot_look_customers_up(api, other):
    assert api.get(f"{API}/staff/customers/", {"email": "beto@example.com"}).status_code == 403
    assert api.get(f"{API}/staff/customers/{other.pk}/").status_code == 403


def test_lookup_by_email_in_any_case(till, rich):
    (found,) = till.get(f"{API}/staff/customers/", {"email": "ANA@example.com"}).json()
    assert found == {"id": rich.pk, "email": "ana@example.com", "name": "", "balance": 500}
    assert till.get(f"{API}/staff/customers/", {"email": "nobody@example.com"}).json() == []
    assert till.get(f"{API}/staff/customers/").status_code == 400


def test_customer_detail_and_unknown_customer(till, rich):
    assert till.get(f"{API}/staff/customers/{rich.pk}/").json()["balance"] == 500
    assert till.get(f"{API}/staff/customers/999999/").status_code == 404
    assert post(till, type(rich)(pk=999999), "award", {"amount": "10.00"}).status_code == 404


def test_in_store_purchase_earns_at_the_store_rate_once_per_key(till, customer, staff):
    first = post(till, customer, "award", {"amount": "125.50", "reference": "R-1042"})
    assert first.status_code == 201
    body = first.json()
    assert (body["kind"], body["points"], body["balance_after"]) == ("earn", 12, 12)
    assert body["reason"] == "In-store purchase R-1042"  # the receipt the customer holds
    again = post(till, customer, "award", {"amount": "125.50", "reference": "R-1042"})
    assert again.status_code == 201 and again.json() == body
    entry = LedgerEntry.objects.get(idempotency_key=f"earn:till:{KEY}")
    assert (entry.staff_user, entry.reason) == (staff, "In-store purchase R-1042")
    assert ledger.get_account(customer).balance == 12


def test_the_same_key_for_a_different_request_is_a_conflict(till, customer, other):
    post(till, customer, "award", {"amount": "100.00"})
    before = entries()
    assert post(till, customer, "award", {"amount": "300.00"}).status_code == 409
    assert post(till, other, "award", {"amount": "100.00"}).status_code == 409
    assert entries() == before


@pytest.mark.parametrize(
    "body,key",
    [
        ({"amount": "100.00"}, None),
        ({"amount": "100.00"}, ""),
        ({"amount": "100.00"}, "has spaces"),
        ({"amount": "100.00"}, "x" * 65),
        ({"amount": "0"}, KEY),
        ({"amount": "-5"}, KEY),
        ({"amount": "NaN"}, KEY),
        ({"amount": "5.00"}, KEY),  # earns no point at 1 per 10
        ({"amount": "100.00", "reference": "r" * 65}, KEY),
        ({}, KEY),
        ({"amount": 125.5}, KEY),  # money travels as text
        ({"amount": "100.00", "reference": 1042}, KEY),
    ],
)
def test_a_bad_award_is_refused_and_writes_nothing(till, customer, body, key):
    response = post(till, customer, "award", body, key=key)
    assert response.status_code == 400, response.json()
    assert entries() == []


def test_in_store_redemption_spends_and_says_what_discount_to_give(till, rich):
    response = post(till, rich, "redeem", {"points": 120, "reference": "R-7"})
    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["points"], body["value"]) == ("spend", -120, "120.00")
    assert post(till, rich, "redeem", {"points": 120, "reference": "R-7"}).json() == body
    assert ledger.get_account(rich).balance == 380


def test_redeeming_more_than_the_balance_is_a_conflict_and_writes_nothing(till, rich):
    before = entries()
    response = post(till, rich, "redeem", {"points": 501})
    assert response.status_code == 409
    assert "500 available" in response.json()["detail"]
    assert entries() == before


@pytest.mark.parametrize("points", [9, "50", 50.0, True])
def test_redeeming_fewer_than_the_minimum_or_not_a_whole_number_is_refused(till, rich, points):
    assert post(till, rich, "redeem", {"points": points}).status_code == 400
    assert ledger.get_account(rich).balance == 500


def test_adjustments_carry_the_staff_members_reason(till, rich, staff):
    response = post(till, rich, "adjust", {"points": -20, "reason": "Broken mug returned"})
    assert response.status_code == 201
    assert response.json()["reason"] == "Broken mug returned"
    entry = LedgerEntry.objects.get(idempotency_key=f"adjust:staff:{KEY}")
    assert (entry.points, entry.staff_user) == (-20, staff)


@pytest.mark.parametrize(
    "body",
    [{"points": 10}, {"points": 10, "reason": ""}, {"points": 0, "reason": "x"}],
)
def test_an_adjustment_needs_a_reason_and_points(till, rich, body):
    before = entries()
    assert post(till, rich, "adjust", body).status_code == 400
    assert entries() == before


def test_taking_away_more_than_the_balance_is_a_conflict(till, rich):
    assert post(till, rich, "adjust", {"points": -501, "reason": "x"}).status_code == 409
    assert ledger.get_account(rich).balance == 500
