"""A till that sends the same redemption twice at once (a double tap, a retry) spends once."""

import pytest

from oscar_loyalty import ledger
from oscar_loyalty.models import LedgerEntry

from ..integration.test_ledger_concurrency import run_together
from .conftest import client_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_same_in_store_redemption_posted_twice_at_once_gives_one_entry(customer, staff):
    ledger.earn(ledger.get_account(customer), 100, key="seed", reason="Seed")
    url = f"/api/loyalty/staff/customers/{customer.pk}/redeem/"
    clients = [client_for(staff) for _ in range(2)]
    responses = run_together(
        2,
        lambda i: clients[i].post(
            url, {"points": 60}, format="json", headers={"Idempotency-Key": "tap-1"}
        ),
    )
    assert [r.status_code for r in responses] == [201, 201], responses
    assert responses[0].json() == responses[1].json()
    assert LedgerEntry.objects.filter(idempotency_key="spend:till:tap-1").count() == 1
    account = ledger.get_account(customer)
    assert account.balance == 40 == ledger.balance_from_entries(account)
